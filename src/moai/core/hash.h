#pragma once
// Content hashing for cache keys (xxHash3 128-bit, from libxxhash) and the FNV-1a hash of token ids
// that the tokenizer goldens use.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace moai {

// Incremental XXH3-128 hasher; hex() gives 32 lowercase hex digits.
class ContentHasher {
 public:
  ContentHasher();
  ~ContentHasher();
  ContentHasher(const ContentHasher&) = delete;
  ContentHasher& operator=(const ContentHasher&) = delete;
  void update(std::string_view bytes);
  void update_u64(uint64_t value);
  std::string hex() const;

 private:
  void* state_;
};

std::string hash_bytes_hex(std::string_view bytes);
// Hashes a file's contents by streaming it (InputError if it cannot be read).
std::string hash_file_hex(const std::string& path);

// FNV-1a 32-bit over whole uint32 ids: h = (h ^ id) * 16777619, starting at 0x811c9dc5.
uint32_t fnv1a32_ids(std::span<const uint32_t> ids, uint32_t seed = 0x811c9dc5u);

}  // namespace moai
