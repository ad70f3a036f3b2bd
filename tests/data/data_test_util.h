#pragma once
// Helpers shared by the data tests: writing small input files (plain and compressed) and building
// prepared datasets directly from token lists, so loader tests do not depend on a tokenizer.
#include <zlib.h>
#include <zstd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "moai/core/file_util.h"
#include "moai/data/prepared_dataset.h"
#include "moai/data/token_shard.h"
#include "test_paths.h"

namespace moai::data::testing {

inline std::string write_text(const std::string& dir, const std::string& name,
                              const std::string& text) {
  std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

inline std::string gzip_bytes(const std::string& text) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, text.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

inline std::string zstd_bytes(const std::string& text) {
  std::string out(ZSTD_compressBound(text.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), text.data(), text.size(), 3));
  return out;
}

// A dataset entry holding `docs` in the train split (one shard per `per_shard` docs), with loss
// masks for SFT. Returns the entry directory.
inline std::string make_dataset(const std::string& dir,
                                const std::vector<std::vector<uint32_t>>& docs,
                                const std::vector<std::vector<uint8_t>>& masks = {},
                                size_t per_shard = 1000000) {
  bool sft = !masks.empty();
  DatasetManifest m;
  m.mode = sft ? DatasetMode::kSft : DatasetMode::kPretrain;
  m.cache_key = "test";
  m.vocab_size = 1000;
  ShardWriter writer(sft);
  auto flush = [&] {
    if (writer.num_documents() == 0) return;
    std::string name = "train-" + std::to_string(m.train.shards.size()) + ".bin";
    writer.write(dir + "/" + name);
    m.train.shards.push_back(name);
    writer.clear();
  };
  for (size_t i = 0; i < docs.size(); ++i) {
    writer.add_document(docs[i],
                        sft ? std::span<const uint8_t>(masks[i]) : std::span<const uint8_t>());
    m.train.documents++;
    m.train.tokens += docs[i].size();
    if (writer.num_documents() >= per_shard) flush();
  }
  flush();
  write_file_atomic(dir + "/manifest.json", m.to_json());
  return dir;
}

}  // namespace moai::data::testing
