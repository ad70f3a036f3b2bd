// moai: one binary, one subcommand per file in src/cli/. This file only parses, dispatches and maps
// errors to exit codes: 0 success, 2 bad usage or bad input, 1 internal or I/O failure.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "cli/command.h"
#include "cli/engine_flags.h"
#include "moai/core/error.h"
#include "moai/core/interrupt.h"
#include "moai/ops/blas_kernels.h"

namespace moai::cli {
namespace {

std::vector<std::pair<std::string, Registrar>>& registry() {
  static std::vector<std::pair<std::string, Registrar>> entries;
  return entries;
}

}  // namespace

CommandRegistration::CommandRegistration(const char* name, Registrar registrar) {
  registry().emplace_back(name, registrar);
}

CLI::App& command_group(CLI::App& parent, const std::string& name, const std::string& description) {
  for (CLI::App* sub : parent.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_name() == name) return *sub;
  }
  CLI::App* group = parent.add_subcommand(name, description);
  group->require_subcommand(1);
  return *group;
}

std::string flag(const std::string& underscore_name) {
  std::string dashed = underscore_name;
  std::replace(dashed.begin(), dashed.end(), '_', '-');
  if (dashed == underscore_name) return "--" + underscore_name;
  return "--" + underscore_name + ",--" + dashed;
}

}  // namespace moai::cli

int main(int argc, char** argv) {
  moai::ops::match_blas_kernels(argv);  // before anything else: may re-execute the binary once
  CLI::App app{"moai: train and serve Qwen3-architecture language models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "moai 0.1.0");
  auto& entries = moai::cli::registry();
  // Static registration order is unspecified; sort so --help lists commands the same way every
  // time.
  std::sort(entries.begin(), entries.end());
  for (auto& [name, registrar] : entries) registrar(app);
  moai::install_interrupt_handler();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const moai::Error& e) {
    std::fprintf(stderr, "moai: error: %s\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moai: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}
