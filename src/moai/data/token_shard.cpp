#include "moai/data/token_shard.h"

#include <xxhash.h>

#include <cstring>

#include "moai/core/error.h"
#include "moai/core/file_util.h"

namespace moai::data {
namespace {

constexpr size_t kHeaderBytes = 64;

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t dtype;
  uint32_t flags;
  uint32_t reserved;
  uint64_t num_tokens;
  uint64_t num_docs;
  uint64_t checksum;
  uint8_t reserved2[16];
};
static_assert(sizeof(Header) == kHeaderBytes);

}  // namespace

void ShardWriter::add_document(std::span<const uint32_t> tokens, std::span<const uint8_t> mask) {
  MOAI_CHECK(with_mask_ ? mask.size() == tokens.size() : mask.empty());
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
  offsets_.push_back(tokens_.size());
  if (with_mask_) mask_.insert(mask_.end(), mask.begin(), mask.end());
}

void ShardWriter::clear() {
  tokens_.clear();
  offsets_.assign(1, 0);
  mask_.clear();
}

void ShardWriter::write(const std::string& path) const {
  Header header{};
  std::memcpy(header.magic, kShardMagic, sizeof(kShardMagic));
  header.version = kShardVersion;
  header.dtype = kShardDtypeU32;
  header.flags = with_mask_ ? kShardFlagLossMask : 0;
  header.num_tokens = tokens_.size();
  header.num_docs = offsets_.size() - 1;
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  XXH3_64bits_update(state, offsets_.data(), offsets_.size() * sizeof(uint64_t));
  XXH3_64bits_update(state, tokens_.data(), tokens_.size() * sizeof(uint32_t));
  XXH3_64bits_update(state, mask_.data(), mask_.size());
  header.checksum = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  write_file_atomic(path, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(&header), sizeof(header));
    out.write(reinterpret_cast<const char*>(offsets_.data()), offsets_.size() * sizeof(uint64_t));
    out.write(reinterpret_cast<const char*>(tokens_.data()), tokens_.size() * sizeof(uint32_t));
    out.write(reinterpret_cast<const char*>(mask_.data()), mask_.size());
  });
}

ShardReader::ShardReader(const std::string& path, bool verify_checksum) : file_(path) {
  if (file_.size() < kHeaderBytes)
    throw_input_error(path, "not a moai token shard (file too short)");
  Header header;
  std::memcpy(&header, file_.data(), sizeof(header));
  if (std::memcmp(header.magic, kShardMagic, sizeof(kShardMagic)) != 0) {
    throw_input_error(path, "not a moai token shard (bad magic)");
  }
  if (header.version != kShardVersion) {
    throw_input_error(path, "token shard version " + std::to_string(header.version) +
                                ", expected " + std::to_string(kShardVersion) +
                                " (re-run moai data prepare)");
  }
  if (header.dtype != kShardDtypeU32) {
    throw_input_error(
        path, "token shard dtype " + std::to_string(header.dtype) + ", expected 1 (uint32)");
  }
  bool has_mask = header.flags & kShardFlagLossMask;
  num_tokens_ = header.num_tokens;
  num_docs_ = header.num_docs;
  // Guard the size arithmetic against absurd headers before multiplying.
  if (num_tokens_ > file_.size() || num_docs_ > file_.size()) {
    throw_input_error(path,
                      "token shard header counts exceed the file size (truncated or corrupt)");
  }
  uint64_t expected = kHeaderBytes + num_tokens_ * sizeof(uint32_t) + (num_docs_ + 1) * 8 +
                      (has_mask ? num_tokens_ : 0);
  if (expected != file_.size()) {
    throw_input_error(path, "token shard is " + std::to_string(file_.size()) +
                                " bytes, header says " + std::to_string(expected) +
                                " (truncated or corrupt)");
  }
  // The 64-byte header keeps the uint64 offsets that follow it 8-byte aligned in the (page-aligned)
  // mapping; the uint32 tokens come after them so an odd token count never misaligns anything.
  const uint8_t* body = file_.data() + kHeaderBytes;
  offsets_ = reinterpret_cast<const uint64_t*>(body);
  tokens_ = reinterpret_cast<const uint32_t*>(body + (num_docs_ + 1) * 8);
  mask_ = has_mask ? body + (num_docs_ + 1) * 8 + num_tokens_ * sizeof(uint32_t) : nullptr;
  if (verify_checksum && XXH3_64bits(body, file_.size() - kHeaderBytes) != header.checksum) {
    throw_input_error(path, "token shard checksum mismatch (corrupt file)");
  }
  if (offsets_[0] != 0 || offsets_[num_docs_] != num_tokens_) {
    throw_input_error(path, "token shard document index does not span the tokens (corrupt file)");
  }
  for (uint64_t i = 0; i < num_docs_; ++i) {
    if (offsets_[i] > offsets_[i + 1])
      throw_input_error(path, "token shard document index not sorted");
  }
}

std::span<const uint32_t> ShardReader::document(uint64_t index) const {
  MOAI_CHECK(index < num_docs_);
  return {tokens_ + offsets_[index], offsets_[index + 1] - offsets_[index]};
}

std::span<const uint8_t> ShardReader::document_mask(uint64_t index) const {
  MOAI_CHECK(index < num_docs_);
  if (!mask_) return {};
  return {mask_ + offsets_[index], offsets_[index + 1] - offsets_[index]};
}

}  // namespace moai::data
