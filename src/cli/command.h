#pragma once
// Subcommand registry. Each src/cli/<command>.cpp registers itself with MOAI_REGISTER_COMMAND, so
// adding a subcommand never touches main.cpp. A registrar receives the root app and adds its
// subcommand (use command_group() for nested commands such as "tokenizer train"). Callbacks throw
// moai errors; main maps them to exit codes (InputError -> 2, anything else -> 1).
#include <CLI/CLI.hpp>

#include <string>

namespace moai::cli {

using Registrar = void (*)(CLI::App& root);

struct CommandRegistration {
  CommandRegistration(const char* name, Registrar registrar);
};

// Finds or creates the subcommand `name` of `parent` (for groups shared by several files).
CLI::App& command_group(CLI::App& parent, const std::string& name, const std::string& description);

// "--output_dir,--output-dir": the original project's underscore spelling plus the dashed one.
std::string flag(const std::string& underscore_name);

}  // namespace moai::cli

#define MOAI_CLI_CONCAT_INNER(a, b) a##b
#define MOAI_CLI_CONCAT(a, b) MOAI_CLI_CONCAT_INNER(a, b)
#define MOAI_REGISTER_COMMAND(name, registrar)                                                   \
  static ::moai::cli::CommandRegistration MOAI_CLI_CONCAT(moai_command_registration_, __LINE__)( \
      name, registrar)
