// Checkpoint directories: completion marker, atomic replacement, pruning after completion, resume
// lookup, optimizer moments round trip, trainer state round trip.
#include "moai/train/checkpoint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "moai/core/error.h"
#include "test_paths.h"

namespace moai::train {
namespace {
namespace fs = std::filesystem;

void write_dummy(const std::string& dir) {
  std::ofstream(dir + "/model.safetensors") << "weights";
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
