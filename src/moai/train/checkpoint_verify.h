#pragma once
// Checksums that make a checkpoint's COMPLETE marker a promise about its contents. The marker holds
// {"step": N, "files": {"<name>": {"bytes": B, "xxh3": "<hex>"}}} for every file of the directory;
// verify_checkpoint re-reads them, so a truncated or corrupted file (a full disk, a bad copy, bit
// rot) is refused instead of being loaded. Markers of older checkpoints ("N\n") carry no checksums:
// those are checked for structure only (the safetensors headers and trainer_state.json parse).
#include <string>

namespace moai::train {

// The marker text for the files now in `dir` (the marker itself excluded).
std::string checkpoint_marker_text(const std::string& dir, int64_t step);

// Throws InputError naming the checkpoint and the first file that is missing, has the wrong size
// or checksum, or does not parse.
void verify_checkpoint(const std::string& dir);

}  // namespace moai::train
