// File byte streams with transparent gzip/zstd decoding, and a line splitter over them.
#include "moai/data/byte_stream.h"

#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "moai/core/error.h"

namespace moai::data {
namespace {

// Read and decompression buffers start at 64 KiB (the line buffer doubles when one line fills it):
// large enough that syscalls cost nothing next to the parsing, small enough that opening many small
// files (a Hub dataset's shards, the fuzzer's one-file inputs) does not zero-fill megabytes per
// file.
constexpr size_t kChunk = 1 << 16;

class PlainStream : public ByteStream {
 public:
  explicit PlainStream(const std::string& path) : path_(path) {
    file_ = std::fopen(path.c_str(), "rb");
    if (!file_) throw_input_error(path, std::string("cannot open: ") + std::strerror(errno));
  }
  ~PlainStream() override { std::fclose(file_); }
  size_t read(char* out, size_t capacity) override {
    size_t got = std::fread(out, 1, capacity, file_);
    if (got < capacity && std::ferror(file_)) throw_io_error(path_, "read failed");
    raw_ += got;
    return got;
  }
  uint64_t raw_bytes_read() const override { return raw_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  uint64_t raw_ = 0;
};

// Reads compressed bytes in chunks and hands them to a decoder; shared by gzip and zstd.
class CompressedStream : public ByteStream {
 public:
  explicit CompressedStream(const std::string& path) : inner_(path), path_(path), in_(kChunk) {}
  uint64_t raw_bytes_read() const override { return inner_.raw_bytes_read(); }

 protected:
  // Makes more compressed input available; false at the end of the file.
  bool fill_input() {
    in_size_ = inner_.read(in_.data(), in_.size());
    in_pos_ = 0;
    return in_size_ > 0;
  }
  PlainStream inner_;
  std::string path_;
  std::vector<char> in_;
  size_t in_size_ = 0;
  size_t in_pos_ = 0;
};

class GzipStream : public CompressedStream {
 public:
  explicit GzipStream(const std::string& path) : CompressedStream(path) {
    std::memset(&z_, 0, sizeof(z_));
    // 16 + MAX_WBITS: gzip wrapper; concatenated members are handled by resetting at Z_STREAM_END.
    if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) throw_io_error(path, "zlib init failed");
  }
  ~GzipStream() override { inflateEnd(&z_); }
  size_t read(char* out, size_t capacity) override {
    size_t produced = 0;
    while (produced < capacity) {
      if (in_pos_ == in_size_) {
        if (!fill_input()) {
          if (mid_member_)
            throw_input_error(path_, "truncated gzip stream (unexpected end of file)");
          return produced;
        }
      }
      z_.next_in = reinterpret_cast<Bytef*>(in_.data() + in_pos_);
      z_.avail_in = static_cast<uInt>(in_size_ - in_pos_);
      z_.next_out = reinterpret_cast<Bytef*>(out + produced);
      z_.avail_out = static_cast<uInt>(capacity - produced);
      mid_member_ = true;
      int rc = inflate(&z_, Z_NO_FLUSH);
      in_pos_ = in_size_ - z_.avail_in;
      produced = capacity - z_.avail_out;
      if (rc == Z_STREAM_END) {
        mid_member_ = false;
        inflateReset(&z_);
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        throw_input_error(
            path_, std::string("corrupt gzip data: ") + (z_.msg ? z_.msg : "inflate failed"));
      }
    }
    return produced;
  }

 private:
  z_stream z_;
  bool mid_member_ = false;
};

class ZstdStream : public CompressedStream {
 public:
  explicit ZstdStream(const std::string& path) : CompressedStream(path) {
    ctx_ = ZSTD_createDCtx();
    if (!ctx_) throw_io_error(path, "zstd init failed");
  }
  ~ZstdStream() override { ZSTD_freeDCtx(ctx_); }
  size_t read(char* out, size_t capacity) override {
    ZSTD_outBuffer output{out, capacity, 0};
    while (output.pos < output.size) {
      if (in_pos_ == in_size_) {
        if (!fill_input()) {
          if (pending_) throw_input_error(path_, "truncated zstd stream (unexpected end of file)");
          return output.pos;
        }
      }
      ZSTD_inBuffer input{in_.data(), in_size_, in_pos_};
      size_t rc = ZSTD_decompressStream(ctx_, &output, &input);
      in_pos_ = input.pos;
      if (ZSTD_isError(rc))
        throw_input_error(path_, std::string("corrupt zstd data: ") + ZSTD_getErrorName(rc));
      pending_ = rc != 0;  // 0 means a frame just ended cleanly
    }
    return output.pos;
  }

 private:
  ZSTD_DCtx* ctx_ = nullptr;
  bool pending_ = false;
};

}  // namespace

std::unique_ptr<ByteStream> open_byte_stream(const std::string& path, Compression compression) {
  switch (compression) {
    case Compression::kNone:
      return std::make_unique<PlainStream>(path);
    case Compression::kGzip:
      return std::make_unique<GzipStream>(path);
    case Compression::kZstd:
      return std::make_unique<ZstdStream>(path);
  }
  MOAI_CHECK(false);
  return nullptr;
}

namespace {

// Binary formats moai does not read, by their leading magic bytes.
struct Magic {
  std::string_view bytes;
  const char* name;
};
constexpr Magic kRefused[] = {
    {"PK\x03\x04", "zip"},
    {"\xfd"
     "7zXZ",
     "xz"},
    {"BZh", "bzip2"},
    {"7z\xbc\xaf\x27\x1c", "7z"},
    {"\x04\x22\x4d\x18", "lz4"},
    {"ARROW1", "Arrow IPC"},
    {"ORC", "ORC"},
    {"Obj\x01", "Avro"},
    {"SQLite format 3", "SQLite"},
    {"\x93NUMPY", "NumPy"},
    {"\x89HDF", "HDF5"},
};

}  // namespace

void sniff_content(InputFile& input) {
  std::FILE* file = std::fopen(input.path.c_str(), "rb");
  if (!file) return;
  char buffer[4096];
  size_t got = std::fread(buffer, 1, sizeof(buffer), file);
  std::fclose(file);
  std::string_view head(buffer, got);
  auto starts = [&](std::string_view magic) { return head.substr(0, magic.size()) == magic; };
  if (starts("PAR1")) {
    input.format = FileFormat::kParquet;
    input.compression = Compression::kNone;
    return;
  }
  if (starts("\x1f\x8b")) {
    input.compression = Compression::kGzip;
    if (input.format == FileFormat::kParquet) input.format = FileFormat::kText;
    return;
  }
  if (starts("\x28\xb5\x2f\xfd")) {
    input.compression = Compression::kZstd;
    if (input.format == FileFormat::kParquet) input.format = FileFormat::kText;
    return;
  }
  for (const Magic& magic : kRefused) {
    if (starts(magic.bytes)) {
      throw_input_error(input.path, std::string(magic.name) +
                                        " data is not supported (expected text, JSON, JSONL, "
                                        "CSV/TSV, optionally .gz/.zst, or Parquet)");
    }
  }
  if (input.format == FileFormat::kParquet) {
    throw_input_error(input.path,
                      "named .parquet but has no Parquet magic (\"PAR1\") at its start");
  }
  if (input.compression == Compression::kNone && head.find('\0') != std::string_view::npos) {
    throw_input_error(input.path,
                      "binary data (NUL bytes in the first 4 KB): not text, JSON, JSONL, CSV/TSV "
                      "or Parquet");
  }
}

std::string read_all(const std::string& path, Compression compression) {
  auto stream = open_byte_stream(path, compression);
  std::string data;
  std::vector<char> chunk(kChunk);
  while (size_t got = stream->read(chunk.data(), chunk.size())) data.append(chunk.data(), got);
  return data;
}

LineReader::LineReader(std::unique_ptr<ByteStream> stream, std::string path)
    : stream_(std::move(stream)), path_(std::move(path)) {
  buffer_.resize(kChunk);
}

bool LineReader::refill() {
  if (eof_) return false;
  // Move the unread tail to the front, grow when a single line fills the buffer.
  size_t pending = end_ - begin_;
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, pending);
    begin_ = 0;
    end_ = pending;
  }
  if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);
  size_t got = stream_->read(buffer_.data() + end_, buffer_.size() - end_);
  if (got == 0) eof_ = true;
  end_ += got;
  return got > 0;
}

bool LineReader::next(std::string_view& line) {
  size_t scan_from = begin_;
  while (true) {
    const char* start = buffer_.data() + scan_from;
    const void* newline = std::memchr(start, '\n', end_ - scan_from);
    if (newline) {
      size_t stop = static_cast<const char*>(newline) - buffer_.data();
      size_t length = stop - begin_;
      if (length > 0 && buffer_[stop - 1] == '\r') --length;
      line = std::string_view(buffer_.data() + begin_, length);
      begin_ = stop + 1;
      ++line_number_;
      return true;
    }
    size_t scanned = end_ - begin_;
    if (!refill()) {
      if (begin_ == end_) return false;
      size_t length = end_ - begin_;
      if (buffer_[end_ - 1] == '\r') --length;
      line = std::string_view(buffer_.data() + begin_, length);
      begin_ = end_;
      ++line_number_;
      return true;
    }
    scan_from = begin_ + scanned;
  }
}

}  // namespace moai::data
