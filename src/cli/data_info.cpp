// moai data info: what a prepared dataset holds (documents, tokens, lengths, fields, shards, SFT
// share), or, for a Hub dataset name, its configs, splits, files and sizes (nothing but the dataset
// card is downloaded).
#include <cstdio>
#include <memory>
#include <string>

#include "cli/command.h"
#include "moai/data/dataset_info.h"
#include "moai/data/hub_dataset.h"

namespace moai::cli {
namespace {

struct InfoFlags {
  std::string dataset;
  std::string revision = "main";
};

void register_data_info(CLI::App& root) {
  CLI::App& group = command_group(root, "data", "Prepare and inspect training data");
  auto f = std::make_shared<InfoFlags>();
  CLI::App* cmd = group.add_subcommand(
      "info", "Statistics of a prepared dataset, or the configs/splits/files of a Hub dataset");
  cmd->add_option("--dataset", f->dataset,
                  "dataset directory written by moai data prepare, or a Hub dataset owner/name")
      ->required();
  cmd->add_option("--revision", f->revision, "Hub revision: branch, tag or commit")
      ->capture_default_str();
  cmd->callback([f] {
    if (!data::hub::is_local_source(f->dataset)) {
      data::hub::HubClient client(data::hub::HubEnv::from_environment(), f->dataset, f->revision);
      std::fputs(data::hub::format_hub_info(client).c_str(), stdout);
      return;
    }
    data::PreparedDataset prepared = data::PreparedDataset::open(f->dataset);
    std::fputs(data::format_dataset_report(prepared).c_str(), stdout);
  });
}

}  // namespace
}  // namespace moai::cli

MOAI_REGISTER_COMMAND("data info", moai::cli::register_data_info);
