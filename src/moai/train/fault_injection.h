#pragma once
// Debug fault injection for the tests of the trainer's fault handling (like --debug_kill_at).
// MOAI_DEBUG_NAN_AT="K" or "K-L" or "K,M-N" (1-based optimizer steps): those steps' loss is made
// NaN after the forward/backward, so the non-finite-step path (skip, count, --max_bad_steps) runs
// exactly as it would for a real overflow. Unset (the normal case): never.
#include <cstdint>

namespace moai::train {

// True when MOAI_DEBUG_NAN_AT names `step`. InputError for a malformed value.
bool debug_nan_at(int64_t step);

}  // namespace moai::train
