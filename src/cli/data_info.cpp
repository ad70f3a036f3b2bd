// moai data info: what a prepared dataset holds (documents, tokens, lengths, fields, shards, SFT
// share).
#include <cstdio>
#include <memory>
#include <string>

#include "cli/command.h"
#include "moai/data/dataset_info.h"

namespace moai::cli {
namespace {

void register_data_info(CLI::App& root) {
  CLI::App& group = command_group(root, "data", "Prepare and inspect training data");
  auto dataset = std::make_shared<std::string>();
  CLI::App* cmd =
      group.add_subcommand("info", "Statistics of a prepared dataset (moai data prepare)");
  cmd->add_option("--dataset", *dataset, "dataset directory written by moai data prepare")
      ->required();
  cmd->callback([dataset] {
    data::PreparedDataset prepared = data::PreparedDataset::open(*dataset);
    std::fputs(data::format_dataset_report(prepared).c_str(), stdout);
  });
}

}  // namespace
}  // namespace moai::cli

MOAI_REGISTER_COMMAND("data info", moai::cli::register_data_info);
