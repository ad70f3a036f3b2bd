// moai train: pretraining and SFT (src/moai/train/trainer.h). Every setting of the training-config
// table is a flag (underscore and dashed spellings); --config reads a YAML file first and flags
// override it. Under mpirun each process is one data-parallel rank.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "cli/command.h"
#include "moai/core/error.h"
#include "moai/core/log.h"
#ifdef MOAI_HAVE_CUDA
#include "moai/train/nccl/nccl_communicator.h"
#endif
#include "moai/train/communicator.h"
#include "moai/train/sequential.h"
#include "moai/train/train_config.h"
#include "moai/train/trainer.h"

namespace moai::cli {
namespace {

struct TrainFlags {
  std::string config_file;
  bool quiet = false;
  // Text of every flag as given; only the ones the user set are applied (so YAML values survive).
  std::map<std::string, std::vector<std::string>> lists;
  std::map<std::string, std::string> scalars;
  std::map<std::string, bool> switches;
  std::map<std::string, CLI::Option*> options;
};

void run_train(TrainFlags& flags) {
  train::TrainConfig config;
  std::vector<std::string> notes;
  if (!flags.config_file.empty()) train::load_train_config_yaml(config, flags.config_file, &notes);
  for (const train::ConfigField& field : train::train_config_fields()) {
    if (!field.is_flag) continue;
    CLI::Option* option = flags.options.at(field.name);
    if (option->count() == 0) continue;
    const std::string where = "--" + std::string(field.name);
    if (flags.lists.count(field.name)) {
      bool first = true;
      for (const std::string& value : flags.lists[field.name]) {
        train::set_config_value(config, field.name, value, where, !first);
        first = false;
      }
    } else if (flags.switches.count(field.name)) {
      train::set_config_value(config, field.name, flags.switches[field.name] ? "true" : "false",
                              where);
    } else {
      train::set_config_value(config, field.name, flags.scalars[field.name], where);
    }
  }
  for (const std::string& note : train::inert_setting_notes(config)) notes.push_back(note);

  std::unique_ptr<train::Communicator> comm = train::launched_by_mpi()
                                                  ? train::make_mpi_communicator()
                                                  : train::make_single_process_communicator();
  if (!comm->is_root()) set_log_level(LogLevel::kWarn);
  if (comm->is_root())
    for (const std::string& note : notes) MOAI_WARN(note);
  train::TrainerHooks hooks;
  hooks.show_progress = !flags.quiet;
#ifdef MOAI_HAVE_CUDA
  hooks.device_communicator = [](train::Communicator& bootstrap, ops::Backend& backend) {
    return train::make_nccl_communicator(bootstrap, backend);
  };
#endif
  const train::TrainResult result = config.sequential
                                        ? train::run_sequential_training(config, *comm, hooks)
                                        : train::run_training(config, *comm, hooks);
  if (comm->is_root() && !result.interrupted && result.final_eval_loss >= 0)
    std::printf("final eval loss %.4f\n", result.final_eval_loss);
}

void register_train(CLI::App& root) {
  auto flags = std::make_shared<TrainFlags>();
  CLI::App* cmd = root.add_subcommand(
      "train", "Pretrain or fine-tune (SFT) a Qwen3 model; resumable, data parallel under mpirun");
  cmd->add_option(
         flag("config"), flags->config_file,
         "YAML training config (the original's training_config.yaml layout or flat keys); flags "
         "override it")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--quiet", flags->quiet, "no progress line");
  const train::TrainConfig defaults;
  for (const train::ConfigField& field : train::train_config_fields()) {
    if (!field.is_flag) continue;
    const std::string name = field.name;
    const std::string default_text = train::get_config_value(defaults, field);
    const std::string help =
        std::string(field.help) + (default_text.empty() ? "" : " [default: " + default_text + "]");
    CLI::Option* option = nullptr;
    if (std::holds_alternative<std::vector<std::string> train::TrainConfig::*>(field.member)) {
      option = cmd->add_option(flag(name), flags->lists[name], help)->expected(1, -1);
    } else if (std::holds_alternative<bool train::TrainConfig::*>(field.member)) {
      option = cmd->add_flag(flag(name), flags->switches[name], help);
    } else {
      option = cmd->add_option(flag(name), flags->scalars[name], help);
    }
    flags->options[name] = option;
  }
  cmd->callback([flags] { run_train(*flags); });
}

}  // namespace

MOAI_REGISTER_COMMAND("train", register_train);

}  // namespace moai::cli
