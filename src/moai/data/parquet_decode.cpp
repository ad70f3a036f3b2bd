// Parquet decompression and encodings.
#include "moai/data/parquet_decode.h"

#include <brotli/decode.h>
#include <lz4.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>

#include "moai/core/error.h"

namespace moai::data::parquet {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw InputError(what);
}

uint32_t load_le32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint32_t load_be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

uint64_t read_uleb(std::string_view& in) {
  uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) fail("truncated varint");
    uint8_t b = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    value |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return value;
  }
  fail("varint longer than 10 bytes");
}

int64_t read_zigzag(std::string_view& in) {
  uint64_t v = read_uleb(in);
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

// Unpacks `count` values of `width` bits (LSB first) starting at `data`; the caller has checked
// that ceil(count * width / 8) bytes are there.
template <typename T, typename Out>
void unpack_bits(const char* data, int width, size_t count, Out&& emit) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data);
  uint64_t bit = 0;
  const uint64_t mask = width == 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1;
  for (size_t i = 0; i < count; ++i, bit += width) {
    uint64_t byte = bit >> 3;
    int shift = static_cast<int>(bit & 7);
    // Gather up to 9 bytes: enough for 64 bits at any shift.
    uint64_t lo = 0;
    size_t need = (shift + width + 7) / 8;
    for (size_t k = 0; k < need && k < 8; ++k) lo |= uint64_t{bytes[byte + k]} << (8 * k);
    uint64_t v = lo >> shift;
    if (need > 8) v |= uint64_t{bytes[byte + 8]} << (64 - shift);
    emit(static_cast<T>(v & mask));
  }
}

void decompress_gzip(std::string_view in, std::string& out) {
  z_stream z{};
  if (inflateInit2(&z, 32 + MAX_WBITS) != Z_OK) throw_io_error("zlib", "init failed");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&z, Z_FINISH);
  size_t produced = z.total_out;
  inflateEnd(&z);
  if (rc != Z_STREAM_END || produced != out.size()) fail("corrupt GZIP page");
}

void decompress_lz4_legacy(std::string_view in, std::string& out) {
  // Hadoop framing: blocks of [BE32 uncompressed][BE32 compressed][LZ4 block]; else one raw block.
  size_t written = 0;
  std::string_view rest = in;
  while (rest.size() >= 8 && written < out.size()) {
    uint32_t raw = load_be32(rest.data()), packed = load_be32(rest.data() + 4);
    if (packed > rest.size() - 8 || raw > out.size() - written) break;
    int got = LZ4_decompress_safe(rest.data() + 8, out.data() + written, static_cast<int>(packed),
                                  static_cast<int>(raw));
    if (got != static_cast<int>(raw)) break;
    written += raw;
    rest.remove_prefix(8 + packed);
  }
  if (written == out.size() && rest.empty()) return;
  int got = LZ4_decompress_safe(in.data(), out.data(), static_cast<int>(in.size()),
                                static_cast<int>(out.size()));
  if (got != static_cast<int>(out.size())) fail("corrupt LZ4 page");
}

}  // namespace

void decompress(Codec codec, std::string_view in, size_t uncompressed_size, std::string& out) {
  out.resize(uncompressed_size);
  switch (codec) {
    case Codec::kUncompressed:
      if (in.size() != uncompressed_size) fail("uncompressed page size mismatch");
      std::memcpy(out.data(), in.data(), in.size());
      return;
    case Codec::kSnappy: {
      size_t length = 0;
      if (!snappy::GetUncompressedLength(in.data(), in.size(), &length) ||
          length != uncompressed_size || !snappy::RawUncompress(in.data(), in.size(), out.data())) {
        fail("corrupt SNAPPY page");
      }
      return;
    }
    case Codec::kGzip:
      decompress_gzip(in, out);
      return;
    case Codec::kZstd: {
      size_t got = ZSTD_decompress(out.data(), out.size(), in.data(), in.size());
      if (ZSTD_isError(got) || got != uncompressed_size) fail("corrupt ZSTD page");
      return;
    }
    case Codec::kLz4Raw: {
      int got = LZ4_decompress_safe(in.data(), out.data(), static_cast<int>(in.size()),
                                    static_cast<int>(out.size()));
      if (got != static_cast<int>(uncompressed_size)) fail("corrupt LZ4_RAW page");
      return;
    }
    case Codec::kLz4:
      decompress_lz4_legacy(in, out);
      return;
    case Codec::kBrotli: {
      size_t got = out.size();
      if (BrotliDecoderDecompress(in.size(), reinterpret_cast<const uint8_t*>(in.data()), &got,
                                  reinterpret_cast<uint8_t*>(out.data())) !=
              BROTLI_DECODER_RESULT_SUCCESS ||
          got != uncompressed_size) {
        fail("corrupt BROTLI page");
      }
      return;
    }
    case Codec::kLzo:
      break;
  }
  fail(std::string("unsupported compression codec ") + codec_name(codec));
}

void decode_rle_hybrid(std::string_view in, int bit_width, size_t count,
                       std::vector<uint32_t>& out) {
  if (bit_width < 0 || bit_width > 32)
    fail("bit width " + std::to_string(bit_width) + " out of range");
  size_t value_bytes = (bit_width + 7) / 8;
  size_t left = count;
  while (left > 0) {
    uint64_t header = read_uleb(in);
    if (header & 1) {
      uint64_t groups = header >> 1;
      if (groups == 0 || groups > (uint64_t{1} << 40)) fail("bad bit-packed run");
      uint64_t values = groups * 8;
      uint64_t bytes = groups * bit_width;
      if (bytes > in.size()) {
        // A writer may end the last run early: decode what is there if it covers the count.
        bytes = in.size();
        values = bit_width ? bytes * 8 / bit_width : values;
      }
      size_t take = static_cast<size_t>(std::min<uint64_t>(values, left));
      if (take == 0) fail("truncated bit-packed run");
      if (bit_width == 0) {
        out.insert(out.end(), take, 0);
      } else {
        unpack_bits<uint32_t>(in.data(), bit_width, take, [&](uint32_t v) { out.push_back(v); });
      }
      in.remove_prefix(static_cast<size_t>(bytes));
      left -= take;
    } else {
      uint64_t run = header >> 1;
      if (run == 0) fail("empty RLE run");
      if (value_bytes > in.size()) fail("truncated RLE run");
      uint32_t value = 0;
      for (size_t k = 0; k < value_bytes; ++k)
        value |= uint32_t{static_cast<uint8_t>(in[k])} << (8 * k);
      if (bit_width < 32 && (value >> bit_width) != 0) fail("RLE value wider than its bit width");
      in.remove_prefix(value_bytes);
      size_t take = static_cast<size_t>(std::min<uint64_t>(run, left));
      out.insert(out.end(), take, value);
      left -= take;
    }
  }
}

std::string_view take_length_prefixed(std::string_view& in) {
  if (in.size() < 4) fail("truncated length prefix");
  uint32_t length = load_le32(in.data());
  if (length > in.size() - 4)
    fail("length prefix " + std::to_string(length) + " past the end of the page");
  std::string_view out = in.substr(4, length);
  in.remove_prefix(4 + length);
  return out;
}

void decode_delta_binary(std::string_view& in, size_t count, std::vector<int64_t>& out) {
  uint64_t block_size = read_uleb(in);
  uint64_t miniblocks = read_uleb(in);
  uint64_t total = read_uleb(in);
  int64_t value = read_zigzag(in);
  if (block_size == 0 || block_size % 128 != 0 || block_size > (1u << 20) || miniblocks == 0 ||
      block_size % miniblocks != 0 || (block_size / miniblocks) % 32 != 0) {
    fail("bad DELTA_BINARY_PACKED header");
  }
  if (total < count) fail("DELTA_BINARY_PACKED holds fewer values than the page");
  if (total == 0) return;
  size_t per_mini = block_size / miniblocks;
  out.push_back(value);
  uint64_t left = total - 1;  // decode all values to advance `in` past the block correctly
  size_t wanted = count;
  size_t emitted = 1;
  while (left > 0) {
    uint64_t min_delta = static_cast<uint64_t>(read_zigzag(in));
    if (in.size() < miniblocks) fail("truncated DELTA_BINARY_PACKED block");
    std::string widths(in.substr(0, miniblocks));
    in.remove_prefix(miniblocks);
    for (size_t m = 0; m < miniblocks && left > 0; ++m) {
      int width = static_cast<uint8_t>(widths[m]);
      if (width > 64) fail("DELTA_BINARY_PACKED bit width over 64");
      size_t take = static_cast<size_t>(std::min<uint64_t>(per_mini, left));
      // Miniblocks are padded to full size, but accept a last one cut after its values.
      size_t bytes = std::min(per_mini * width / 8, in.size());
      if (bytes < (take * width + 7) / 8) fail("truncated DELTA_BINARY_PACKED miniblock");
      unpack_bits<uint64_t>(in.data(), width, take, [&](uint64_t delta) {
        value = static_cast<int64_t>(static_cast<uint64_t>(value) + min_delta + delta);
        if (emitted++ < wanted) out.push_back(value);
      });
      in.remove_prefix(bytes);
      left -= take;
    }
  }
}

void decode_delta_length(std::string_view in, size_t count, std::vector<std::string_view>& out) {
  std::vector<int64_t> lengths;
  decode_delta_binary(in, count, lengths);
  for (size_t i = 0; i < count; ++i) {
    int64_t n = lengths[i];
    if (n < 0 || static_cast<uint64_t>(n) > in.size())
      fail("DELTA_LENGTH_BYTE_ARRAY value past the end");
    out.push_back(in.substr(0, n));
    in.remove_prefix(n);
  }
}

void decode_delta_byte_array(std::string_view in, size_t count, std::string& arena,
                             std::vector<std::string_view>& out) {
  constexpr uint64_t kMaxBytes = uint64_t{1} << 30;
  std::vector<int64_t> prefixes;
  decode_delta_binary(in, count, prefixes);
  std::vector<std::string_view> suffixes;
  decode_delta_length(in, count, suffixes);
  uint64_t total = 0;
  uint64_t previous = 0;
  for (size_t i = 0; i < count; ++i) {
    if (prefixes[i] < 0 || static_cast<uint64_t>(prefixes[i]) > previous) {
      fail("DELTA_BYTE_ARRAY prefix longer than the previous value");
    }
    previous = prefixes[i] + suffixes[i].size();
    total += previous;
    if (total > kMaxBytes) fail("DELTA_BYTE_ARRAY page expands past 1 GiB");
  }
  arena.clear();
  arena.reserve(total);  // never reallocated below: the prefix copies read from `arena` itself
  size_t previous_start = 0;
  for (size_t i = 0; i < count; ++i) {
    size_t start = arena.size();
    arena.append(arena, previous_start, static_cast<size_t>(prefixes[i]));
    arena.append(suffixes[i]);
    out.emplace_back(arena.data() + start, arena.size() - start);
    previous_start = start;
  }
}

void decode_byte_stream_split(std::string_view in, size_t count, int width, std::string& arena) {
  if (count > in.size() / width) fail("BYTE_STREAM_SPLIT data shorter than its values");
  arena.resize(count * width);
  for (int k = 0; k < width; ++k) {
    const char* stream = in.data() + k * count;
    for (size_t i = 0; i < count; ++i) arena[i * width + k] = stream[i];
  }
}

}  // namespace moai::data::parquet
