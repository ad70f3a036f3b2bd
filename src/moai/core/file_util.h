#pragma once
// Whole-file reads and atomic writes. An atomic write goes to "<path>.tmp.<pid>" in the same
// directory, is fsync'ed, renamed over the target and the directory is fsync'ed, so a crash leaves
// either the old file or the new one, never a torn one.
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace moai {

std::string read_file(const std::string& path);  // InputError naming the path if it cannot be read
bool file_exists(const std::string& path);
bool is_directory(const std::string& path);

void write_file_atomic(const std::string& path, std::string_view contents);
// Streams the contents through a callback that writes to an ostream; same guarantees.
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& writer);

// Renames a fully written directory into place (for checkpoints): fsyncs the parent afterwards.
void rename_atomic(const std::string& from, const std::string& to);
void fsync_path(const std::string& path);

}  // namespace moai
