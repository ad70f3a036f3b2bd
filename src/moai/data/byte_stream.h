#pragma once
// Sequential reading of a possibly compressed file (plain, gzip via zlib, zstd via libzstd) and
// splitting it into lines. Used by the record readers; memory stays bounded by the chunk size plus
// the longest line.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "moai/data/record_reader.h"

namespace moai::data {

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Fills up to `capacity` bytes; returns 0 at the end. Throws InputError naming the file for a
  // corrupt or truncated compressed stream and IoError for a failed read.
  virtual size_t read(char* out, size_t capacity) = 0;
  // Bytes of the file consumed so far (compressed bytes for compressed files), for progress bars.
  virtual uint64_t raw_bytes_read() const = 0;
};

std::unique_ptr<ByteStream> open_byte_stream(const std::string& path, Compression compression);

// Looks at a file's first bytes and corrects `input` by content: Parquet ("PAR1") becomes
// FileFormat::kParquet, gzip/zstd magic sets the compression; other binary formats throw InputError
// naming the file and the format. Unreadable files are left as they are (the reader reports them).
void sniff_content(InputFile& input);

// Reads a whole (decompressed) file into memory, for formats that cannot be streamed (JSON arrays).
std::string read_all(const std::string& path, Compression compression);

// Splits a stream into lines ("\n" or "\r\n" endings, the terminator removed), numbering them
// from 1.
class LineReader {
 public:
  LineReader(std::unique_ptr<ByteStream> stream, std::string path);
  // False at the end. `line` stays valid until the next call.
  bool next(std::string_view& line);
  long long line_number() const { return line_number_; }
  const std::string& path() const { return path_; }
  uint64_t raw_bytes_read() const { return stream_->raw_bytes_read(); }

 private:
  bool refill();
  std::unique_ptr<ByteStream> stream_;
  std::string path_;
  std::string buffer_;
  size_t begin_ = 0;  // start of unread data in buffer_
  size_t end_ = 0;    // end of valid data in buffer_
  bool eof_ = false;
  long long line_number_ = 0;
};

}  // namespace moai::data
