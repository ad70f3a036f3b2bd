// The settings table: YAML in the original's layout, flat YAML, overrides, unknown keys, JSON round
// trip.
#include "moai/train/train_config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "moai/core/error.h"
#include "test_paths.h"

namespace moai::train {
namespace {

std::string write_yaml(const std::string& name, const std::string& text) {
  const std::string path = test::temp_dir("train_config_" + name) + "/config.yaml";
  std::ofstream(path) << text;
  return path;
}

// Same sections and keys as the original project's configs/training_config.yaml.
constexpr const char* kOriginalLayout = R"(
model:
  vocab_size: 1000
  hidden_size: 64
  num_attention_heads: 4
  num_key_value_heads: 2
  rope_scaling: null
  use_qk_norm: true
data:
  dataset_name: "corpus/wiki"
  dataset_config: "20231101.ko"
  tokenizer_path: "tokenizers/demo"
  text_column: "text"
  num_proc: 4
  use_sequence_packing: true
  packing_method: "hierarchical"
training:
  output_dir: "./outputs/run"
  run_name: "demo"
  num_epochs: 2
  per_device_train_batch_size: 3
  gradient_accumulation_steps: 5
  learning_rate: 2.0e-04
  weight_decay: 0.05
  adam_beta1: 0.9
  adam_beta2: 0.95
  adam_epsilon: 1.0e-08
  max_grad_norm: 0.5
  lr_scheduler_type: "wsd"
  warmup_steps: 10
  warmup_ratio: 0.02
  stable_ratio: 0.78
  decay_ratio: 0.20
  bf16: false
  fp16: false
  gradient_checkpointing: true
  logging_steps: 7
  save_steps: 70
  save_total_limit: 2
  evaluation_strategy: "steps"
  eval_steps: 35
  dataloader_num_workers: 4
  dataloader_pin_memory: true
  ddp_find_unused_parameters: false
  use_wandb: true
  wandb_project: "moai"
  wandb_entity: null
loss:
  type: "multi_objective"
  params:
    ce_weight: 0.5
    focal_weight: 0.4
    smooth_weight: 0.1
    focal_gamma: 1.5
    smoothing: 0.2
evaluation:
  metrics: [perplexity, loss]
  generation_config:
    max_new_tokens: 16
)";

TEST(TrainConfig, ReadsTheOriginalLayout) {
  TrainConfig config;
  std::vector<std::string> notes;
  load_train_config_yaml(config, write_yaml("original", kOriginalLayout), &notes);
  EXPECT_EQ(config.dataset, std::vector<std::string>{"corpus/wiki"});
  EXPECT_EQ(config.dataset_config, "20231101.ko");
  EXPECT_EQ(config.tokenizer_path, "tokenizers/demo");
  EXPECT_TRUE(config.packing);
  EXPECT_EQ(config.output_dir, "./outputs/run");
  EXPECT_EQ(config.batch_size, 3);
  EXPECT_EQ(config.gradient_accumulation_steps, 5);
  EXPECT_DOUBLE_EQ(config.learning_rate, 2e-4);
  EXPECT_DOUBLE_EQ(config.max_grad_norm, 0.5);
  EXPECT_EQ(config.lr_scheduler, "wsd");
  EXPECT_EQ(config.warmup_steps, 10);
  EXPECT_TRUE(config.gradient_checkpointing);
  EXPECT_EQ(config.eval_steps, 35);
  EXPECT_EQ(config.loss_type, "multi_objective");
  EXPECT_DOUBLE_EQ(config.focal_gamma, 1.5);
  EXPECT_DOUBLE_EQ(config.smoothing, 0.2);
  EXPECT_NE(config.model_inline_json.find("\"hidden_size\":64"), std::string::npos);
  ASSERT_EQ(notes.size(), 1u);  // use_wandb: true is reported, not silently dropped
  EXPECT_NE(notes[0].find("use_wandb"), std::string::npos);
}

TEST(TrainConfig, FlatKeysAndOverrides) {
  TrainConfig config;
  load_train_config_yaml(config,
                         write_yaml("flat", "max_steps: 12\ndataset: [a, b]\nbf16: false\n"));
  EXPECT_EQ(config.max_steps, 12);
  EXPECT_EQ(config.dataset, (std::vector<std::string>{"a", "b"}));
  set_config_value(config, "max_steps", "30", "--max_steps");  // a flag wins over the file
  set_config_value(config, "lr_scheduler_type", "cosine", "--x");
  EXPECT_EQ(config.max_steps, 30);
  EXPECT_EQ(config.lr_scheduler, "cosine");
}

TEST(TrainConfig, UnknownKeysAndBadValuesAreErrors) {
  TrainConfig config;
  try {
    load_train_config_yaml(config, write_yaml("unknown", "training:\n  learning_rat: 1e-3\n"));
    FAIL() << "misspelled key accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("config.yaml:2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("learning_rat"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_train_config_yaml(config, write_yaml("badint", "batch_size: four\n")),
               InputError);
  EXPECT_THROW(load_train_config_yaml(config, write_yaml("badyaml", "a: [1, 2\n")), InputError);
  EXPECT_THROW(load_train_config_yaml(config, write_yaml("list", "batch_size: [1, 2]\n")),
               InputError);
  EXPECT_THROW(
      load_train_config_yaml(config, write_yaml("metric", "evaluation:\n  metrics: [bleu]\n")),
      InputError);
  EXPECT_THROW(set_config_value(config, "bf16", "maybe", "--bf16"), InputError);
  EXPECT_THROW(set_config_value(config, "nonsense", "1", "--nonsense"), InputError);
}

TEST(TrainConfig, Validation) {
  TrainConfig config;
  config.dataset = {"d"};
  config.output_dir = "out";
  EXPECT_NO_THROW(validate_train_config(config));
  TrainConfig bad = config;
  bad.mode = "finetune";
  EXPECT_THROW(validate_train_config(bad), InputError);
  bad = config;
  bad.fp16 = true;
  EXPECT_THROW(validate_train_config(bad), InputError);
  bad = config;
  bad.lr_scheduler = "wsd";
  bad.stable_ratio = 0.5;
  EXPECT_THROW(validate_train_config(bad), InputError);
  bad = config;
  bad.dataset.clear();
  EXPECT_THROW(validate_train_config(bad), InputError);
  bad = config;
  bad.num_proc = 16;
  EXPECT_EQ(inert_setting_notes(bad).size(), 1u);
}

TEST(TrainConfig, JsonRoundTrip) {
  TrainConfig config;
  config.dataset = {"x", "y"};
  config.learning_rate = 1.2345678901234567e-4;
  config.packing = true;
  config.max_steps = 77;
  const TrainConfig back = train_config_from_json(train_config_to_json(config), "test");
  EXPECT_EQ(back.dataset, config.dataset);
  EXPECT_EQ(back.learning_rate, config.learning_rate);  // bit-exact
  EXPECT_TRUE(back.packing);
  EXPECT_EQ(back.max_steps, 77);
  EXPECT_THROW(train_config_from_json("{\"bogus\": 1}", "t"), InputError);
}

}  // namespace
}  // namespace moai::train

namespace moai::train {
namespace {

// The shipped example config must stay loadable and valid.
TEST(TrainConfig, ShippedTinyConfigLoads) {
  TrainConfig config;
  load_train_config_yaml(config, test::source_dir() + "/configs/train_tiny.yaml");
  config.dataset = {"data"};
  EXPECT_NO_THROW(validate_train_config(config));
  EXPECT_EQ(config.lr_scheduler, "wsd");
  EXPECT_EQ(config.max_steps, 300);
  EXPECT_EQ(config.model_config, "configs/tiny.json");
}

}  // namespace
}  // namespace moai::train
