// Entry points for the data layer: record readers (JSON, JSONL, CSV, TSV, text; plain, gzip, zstd),
// SFT format detection and conversion, prepared-data manifests and token shards.
#include <string>
#include <string_view>

#include "fuzz_entries.h"
#include "fuzz_util.h"
#include "moai/core/error.h"
#include "moai/data/prepared_dataset.h"
#include "moai/data/record_reader.h"
#include "moai/data/sft_format.h"
#include "moai/data/token_shard.h"

namespace moai::fuzz {

namespace {
// The first input byte picks the file name (and so the format and compression) and the options.
struct RecordsCase {
  std::string suffix;
  data::ReaderOptions options;
  bool json_records = false;
};

RecordsCase records_case(uint8_t selector) {
  static const char* const kFormats[] = {".jsonl", ".json", ".csv", ".tsv", ".txt"};
  static const char* const kCompressions[] = {"", ".gz", ".zst", ""};
  RecordsCase c;
  const int format = (selector & 7) % 5;
  c.suffix = std::string(kFormats[format]) + kCompressions[(selector >> 3) & 3];
  c.options.skip_bad_records = (selector >> 5) & 1;
  c.options.text_split = (selector >> 6) & 1 ? data::TextSplit::kLine : data::TextSplit::kBlankLine;
  c.json_records = (selector >> 7) & 1 && format != 4;
  return c;
}
}  // namespace

int records_one(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const RecordsCase c = records_case(data[0]);
  const std::string path = scratch_file(as_text(data + 1, size - 1), c.suffix);
  try {
    const auto files = data::expand_inputs({path});
    size_t total = 0;
    if (c.json_records) {
      data::read_json_records(
          files, c.options,
          [&](std::string_view json, const std::string&, long long) { total += json.size(); });
    } else {
      data::read_texts(files, c.options, [&](std::string_view text, const std::string&, long long) {
        total += text.size();
      });
    }
  } catch (const InputError&) {
  } catch (const IoError&) {
  }
  return 0;
}

int sft_record_one(const uint8_t* data, size_t size) {
  const std::string_view json = as_text(data, size);
  try {
    const data::SftFormat format = data::detect_sft_format(json);
    (void)data::sft_record_to_messages(json, format);
  } catch (const InputError&) {
  }
  return 0;
}

int manifest_one(const uint8_t* data, size_t size) {
  try {
    const auto manifest =
        data::DatasetManifest::from_json(std::string(as_text(data, size)), "manifest.json");
    (void)data::DatasetManifest::from_json(manifest.to_json(), "round-trip");
  } catch (const InputError&) {
  }
  return 0;
}

int token_shard_one(const uint8_t* data, size_t size) {
  const std::string path = scratch_file(as_text(data, size), ".bin");
  try {
    const data::ShardReader shard(path, (size & 1) == 0);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < shard.num_documents(); ++i) {
      for (uint32_t token : shard.document(i)) sum += token;
      if (shard.has_loss_mask()) sum += shard.document_mask(i).size();
    }
  } catch (const InputError&) {
  } catch (const IoError&) {
  }
  return 0;
}

}  // namespace moai::fuzz
