// Checkpoint directories: completion marker, atomic replacement, pruning after completion, resume
// lookup, optimizer moments round trip, trainer state round trip.
#include "moai/train/checkpoint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "moai/core/error.h"
#include "moai/core/safetensors.h"
#include "test_paths.h"

namespace moai::train {
namespace {
namespace fs = std::filesystem;

// The smallest checkpoint that verifies (checkpoint_verify.h): a model file and the trainer state.
void write_dummy(const std::string& dir) {
  const float weights[4] = {1, 2, 3, 4};
  SafetensorsWriter writer;
  writer.add_f32("w", {2, 2}, weights);
  writer.write(dir + "/model.safetensors");
  std::ofstream(dir + "/trainer_state.json") << TrainerState{}.to_json();
}

TEST(Checkpoint, NameParsing) {
  EXPECT_EQ(checkpoint_step_from_name("checkpoint-120"), 120);
  EXPECT_EQ(checkpoint_step_from_name("checkpoint-"), -1);
  EXPECT_EQ(checkpoint_step_from_name("checkpoint-12.partial"), -1);
  EXPECT_EQ(checkpoint_step_from_name("final_model"), -1);
}

TEST(Checkpoint, SavePrunesOnlyCompleteOnesAndKeepsTheNewest) {
  const std::string out = test::temp_dir("checkpoint_prune");
  CheckpointManager manager(out, 2);
  for (int step : {10, 20, 30}) manager.save(step, write_dummy);
  auto all = manager.list_complete();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].step, 20);
  EXPECT_EQ(all[1].step, 30);
  EXPECT_FALSE(fs::exists(out + "/checkpoint-10"));
  EXPECT_TRUE(fs::exists(out + "/checkpoint-30/model.safetensors"));
  EXPECT_TRUE(CheckpointManager::is_complete(out + "/checkpoint-30"));
}

TEST(Checkpoint, AFailedSaveLeavesThePreviousOnesIntact) {
  const std::string out = test::temp_dir("checkpoint_fail");
  CheckpointManager manager(out, 1);
  manager.save(5, write_dummy);
  EXPECT_THROW(manager.save(6,
                            [](const std::string& dir) {
                              write_dummy(dir);
                              throw IoError("disk full");  // the crash-in-the-middle case
                            }),
               IoError);
  auto all = manager.list_complete();
  ASSERT_EQ(all.size(), 1u);  // not pruned: the new one never completed
  EXPECT_EQ(all[0].step, 5);
  EXPECT_TRUE(fs::exists(out + "/checkpoint-6.partial"));
  EXPECT_EQ(manager.latest_complete()->step, 5);
  EXPECT_EQ(manager.remove_partial(), 1);
  EXPECT_FALSE(fs::exists(out + "/checkpoint-6.partial"));
}

TEST(Checkpoint, ResolveResume) {
  const std::string out = test::temp_dir("checkpoint_resume");
  CheckpointManager manager(out, 0);
  EXPECT_FALSE(manager.resolve_resume("auto").has_value());  // nothing yet: start fresh
  EXPECT_FALSE(manager.resolve_resume("").has_value());
  manager.save(3, write_dummy);
  manager.save(7, write_dummy);
  fs::create_directories(out + "/checkpoint-9");  // no marker: an interrupted save
  EXPECT_EQ(manager.resolve_resume("auto")->step, 7);
  EXPECT_EQ(manager.resolve_resume(out + "/checkpoint-3")->step, 3);
  EXPECT_THROW(manager.resolve_resume(out + "/checkpoint-9"), InputError);
  EXPECT_THROW(manager.resolve_resume(out + "/nope"), InputError);
  manager.save(7, write_dummy);  // the same step again replaces it
  EXPECT_EQ(manager.list_complete().size(), 2u);
}

TEST(Checkpoint, AutoResumeSkipsCorruptCheckpointsAndAPathToOneIsRefused) {
  const std::string out = test::temp_dir("checkpoint_corrupt");
  CheckpointManager manager(out, 0);
  for (int step : {2, 4, 6}) manager.save(step, write_dummy);
  // 6: truncated (a full disk); 4: same size, one byte changed (bit rot).
  fs::resize_file(out + "/checkpoint-6/model.safetensors",
                  fs::file_size(out + "/checkpoint-6/model.safetensors") - 4);
  {
    std::fstream file(out + "/checkpoint-4/model.safetensors",
                      std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(-1, std::ios::end);
    file.put('\x7f');
  }
  EXPECT_THROW(manager.resolve_resume(out + "/checkpoint-6"), InputError);
  EXPECT_THROW(manager.resolve_resume(out + "/checkpoint-4"), InputError);
  EXPECT_EQ(manager.resolve_resume("auto")->step, 2);
  fs::resize_file(out + "/checkpoint-2/trainer_state.json", 3);
  EXPECT_FALSE(manager.resolve_resume("auto").has_value());
}

TEST(Checkpoint, MarkerListsEveryFileWithItsChecksum) {
  const std::string out = test::temp_dir("checkpoint_marker");
  CheckpointManager manager(out, 0);
  const std::string dir = manager.save(1, write_dummy);
  std::ifstream in(dir + "/COMPLETE");
  const std::string marker((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(marker.find("\"model.safetensors\""), std::string::npos) << marker;
  EXPECT_NE(marker.find("\"trainer_state.json\""), std::string::npos) << marker;
  EXPECT_NE(marker.find("\"xxh3\""), std::string::npos) << marker;
}

TEST(Checkpoint, OptimizerMomentsRoundTripBitExact) {
  const std::string dir = test::temp_dir("checkpoint_moments");
  std::vector<float> m = {1.0f, -2.5f, 3.0e-20f, 0.1f}, v = {0.f, 1e-30f, 7.f, 0.3f};
  save_optimizer_moments(dir, m.data(), v.data(), 4, 12);
  std::vector<float> m2(4), v2(4);
  load_optimizer_moments(dir, m2.data(), v2.data(), 4);
  EXPECT_EQ(m, m2);
  EXPECT_EQ(v, v2);
  std::vector<float> wrong(5);
  EXPECT_THROW(load_optimizer_moments(dir, wrong.data(), wrong.data(), 5), InputError);
  EXPECT_THROW(load_optimizer_moments(test::temp_dir("checkpoint_none"), m2.data(), v2.data(), 4),
               InputError);
}

TEST(Checkpoint, TrainerStateRoundTrip) {
  TrainerState state;
  state.step = 42;
  state.optimizer_steps = 41;
  state.loader_state = R"({"epoch":1,"batch_in_epoch":7,"seed":3})";
  state.log_loss_sum = 1.0 / 3.0;
  state.log_loss_count = 2;
  state.bad_steps_total = 1;
  const TrainerState back = TrainerState::from_json(state.to_json(), "test");
  EXPECT_EQ(back.step, 42);
  EXPECT_EQ(back.optimizer_steps, 41);
  EXPECT_EQ(back.log_loss_sum, 1.0 / 3.0);  // bit-exact through JSON
  EXPECT_NE(back.loader_state.find("\"batch_in_epoch\":7"), std::string::npos);
  EXPECT_THROW(TrainerState::from_json("{\"step\": 1}", "t"), InputError);
}

}  // namespace
}  // namespace moai::train
