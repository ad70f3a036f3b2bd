#pragma once
// Parquet page decoding primitives: decompression (every codec the format defines but LZO) and the
// value/level encodings (RLE/bit-packed hybrid, PLAIN, DELTA_*, BYTE_STREAM_SPLIT). Inputs are byte
// spans; every read is bounds-checked and a malformed input throws InputError with what was wrong
// (the caller adds file, row group and column).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "moai/data/parquet_meta.h"

namespace moai::data::parquet {

// Decompresses `in` into `out`, which must come out exactly `uncompressed_size` bytes long.
void decompress(Codec codec, std::string_view in, size_t uncompressed_size, std::string& out);

// The RLE/bit-packed hybrid (levels, dictionary indices, RLE booleans). Decodes exactly `count`
// values of `bit_width` bits into `out` (appended).
void decode_rle_hybrid(std::string_view in, int bit_width, size_t count,
                       std::vector<uint32_t>& out);

// Reads a little-endian 4-byte length prefix and returns the following span of that length;
// `in` advances past it.
std::string_view take_length_prefixed(std::string_view& in);

// DELTA_BINARY_PACKED: decodes `count` values (appended), advances `in` past the encoded block.
void decode_delta_binary(std::string_view& in, size_t count, std::vector<int64_t>& out);
// DELTA_LENGTH_BYTE_ARRAY: views into `in`.
void decode_delta_length(std::string_view in, size_t count, std::vector<std::string_view>& out);
// DELTA_BYTE_ARRAY: the values are rebuilt into `arena` (cleared, then never reallocated while the
// views are in use).
void decode_delta_byte_array(std::string_view in, size_t count, std::string& arena,
                             std::vector<std::string_view>& out);
// BYTE_STREAM_SPLIT for values of `width` bytes: reassembles `count` values into `arena`.
void decode_byte_stream_split(std::string_view in, size_t count, int width, std::string& arena);

}  // namespace moai::data::parquet
