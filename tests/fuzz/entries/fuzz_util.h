#pragma once
// Helpers shared by the fuzz entry points.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace moai::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Writes the bytes to a per-process scratch file named input<suffix> (for parsers that read files)
// and returns its path. The file is overwritten by the next call.
std::string scratch_file(std::string_view bytes, const std::string& suffix);

}  // namespace moai::fuzz
