#pragma once
// Token shard files (*.bin), the on-disk unit of a prepared dataset. Layout, little-endian:
//
//   offset 0   char[8]  magic "MOAITOKS"
//          8   u32      version (2)
//         12   u32      dtype of tokens (1 = uint32)
//         16   u32      flags (bit 0: a loss mask follows the tokens: SFT)
//         20   u32      reserved (0)
//         24   u64      token count N
//         32   u64      document count D
//         40   u64      XXH3-64 of everything after the header (index, tokens, mask)
//         48   u8[16]   reserved (0)
//         64   u64[D+1] document start offsets (in tokens; first 0, last N)
//              u32[N]   tokens, documents back to back
//              u8[N]    loss mask, only with flag bit 0: 1 = the token is a training target
//
// Both arrays are naturally aligned in the page-aligned mapping (version 1 put the tokens first and
// misaligned the offsets whenever N was odd). Files are written to a temporary name and renamed
// (core/file_util.h), and a reader checks magic, version, size and checksum, so a half-written or
// corrupted shard is never accepted.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "moai/core/mmap_file.h"

namespace moai::data {

inline constexpr char kShardMagic[8] = {'M', 'O', 'A', 'I', 'T', 'O', 'K', 'S'};
// Version 2 stores the document offsets before the tokens (version 1 misaligned them).
inline constexpr uint32_t kShardVersion = 2;
inline constexpr uint32_t kShardDtypeU32 = 1;
inline constexpr uint32_t kShardFlagLossMask = 1;

// Accumulates documents in memory and writes one shard atomically.
class ShardWriter {
 public:
  explicit ShardWriter(bool with_loss_mask) : with_mask_(with_loss_mask) {}
  // mask must be empty for pretrain shards and tokens.size() long for SFT shards.
  void add_document(std::span<const uint32_t> tokens, std::span<const uint8_t> mask = {});
  uint64_t num_tokens() const { return tokens_.size(); }
  uint64_t num_documents() const { return offsets_.size() - 1; }
  void write(const std::string& path) const;  // atomic
  void clear();

 private:
  bool with_mask_;
  std::vector<uint32_t> tokens_;
  std::vector<uint64_t> offsets_{0};
  std::vector<uint8_t> mask_;
};

// A memory-mapped, validated shard.
class ShardReader {
 public:
  // Throws InputError naming the file for a wrong magic/version/dtype, a size that does not match
  // the header, or a checksum mismatch (verify_checksum reads every byte once; on by default).
  explicit ShardReader(const std::string& path, bool verify_checksum = true);

  uint64_t num_tokens() const { return num_tokens_; }
  uint64_t num_documents() const { return num_docs_; }
  bool has_loss_mask() const { return mask_ != nullptr; }
  std::span<const uint32_t> tokens() const { return {tokens_, num_tokens_}; }
  std::span<const uint64_t> offsets() const { return {offsets_, num_docs_ + 1}; }
  std::span<const uint8_t> loss_mask() const { return {mask_, mask_ ? num_tokens_ : 0}; }
  std::span<const uint32_t> document(uint64_t index) const;
  std::span<const uint8_t> document_mask(uint64_t index) const;
  const std::string& path() const { return file_.path(); }

 private:
  MappedFile file_;
  uint64_t num_tokens_ = 0;
  uint64_t num_docs_ = 0;
  const uint32_t* tokens_ = nullptr;
  const uint64_t* offsets_ = nullptr;
  const uint8_t* mask_ = nullptr;
};

}  // namespace moai::data
