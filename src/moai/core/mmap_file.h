#pragma once
// Read-only memory-mapped file. An empty file maps to an empty span (mmap of length 0 is not
// allowed).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace moai {

class MappedFile {
 public:
  MappedFile() = default;
  // Throws InputError naming the path when it cannot be opened (missing, a directory, no
  // permission).
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  std::string_view text() const { return {reinterpret_cast<const char*>(data_), size_}; }
  const std::string& path() const { return path_; }

 private:
  void release();
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace moai
