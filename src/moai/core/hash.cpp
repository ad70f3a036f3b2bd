#include "moai/core/hash.h"

#include <xxhash.h>

#include <cstdio>
#include <fstream>
#include <vector>

#include "moai/core/error.h"

namespace moai {

ContentHasher::ContentHasher() : state_(XXH3_createState()) {
  MOAI_CHECK(state_ != nullptr);
  XXH3_128bits_reset(static_cast<XXH3_state_t*>(state_));
}

ContentHasher::~ContentHasher() {
  XXH3_freeState(static_cast<XXH3_state_t*>(state_));
}

void ContentHasher::update(std::string_view bytes) {
  XXH3_128bits_update(static_cast<XXH3_state_t*>(state_), bytes.data(), bytes.size());
}

void ContentHasher::update_u64(uint64_t value) {
  XXH3_128bits_update(static_cast<XXH3_state_t*>(state_), &value, sizeof value);
}

std::string ContentHasher::hex() const {
  const XXH128_hash_t digest = XXH3_128bits_digest(static_cast<XXH3_state_t*>(state_));
  char buffer[33];
  std::snprintf(buffer, sizeof buffer, "%016llx%016llx",
                static_cast<unsigned long long>(digest.high64),
                static_cast<unsigned long long>(digest.low64));
  return buffer;
}

std::string hash_bytes_hex(std::string_view bytes) {
  ContentHasher hasher;
  hasher.update(bytes);
  return hasher.hex();
}

std::string hash_file_hex(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_input_error(path, "cannot open for hashing");
  ContentHasher hasher;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    hasher.update(std::string_view(buffer.data(), static_cast<size_t>(in.gcount())));
  }
  if (in.bad()) throw_io_error(path, "read failed while hashing");
  return hasher.hex();
}

uint32_t fnv1a32_ids(std::span<const uint32_t> ids, uint32_t seed) {
  uint32_t hash = seed;
  for (uint32_t id : ids) hash = (hash ^ id) * 16777619u;
  return hash;
}

}  // namespace moai
