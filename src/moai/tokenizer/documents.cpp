#include "moai/tokenizer/documents.h"

#include <charconv>
#include <cstring>

#include "moai/core/error.h"

namespace moai::tok {

DocSplit parse_doc_split(const std::string& value) {
  if (value == "blank") return DocSplit::kBlank;
  if (value == "line") return DocSplit::kLine;
  if (value == "none") return DocSplit::kNone;
  throw_input_error("--split_docs", "expected blank, line or none, got '" + value + "'");
}

std::vector<std::string> split_documents(std::string_view text, DocSplit mode) {
  std::vector<std::string> docs;
  if (mode == DocSplit::kNone) {
    if (!text.empty()) docs.emplace_back(text);
    return docs;
  }
  const std::string_view sep = mode == DocSplit::kBlank ? "\n\n" : "\n";
  size_t start = 0;
  while (start < text.size()) {
    size_t pos = text.find(sep, start);
    const size_t end = pos == std::string_view::npos ? text.size() : pos;
    if (mode == DocSplit::kBlank) {
      if (end > start) docs.push_back(std::string(text.substr(start, end - start)) + "\n\n");
    } else {
      docs.emplace_back(text.substr(start, end - start));
    }
    if (pos == std::string_view::npos) break;
    start = pos + sep.size();
  }
  return docs;
}

std::string format_ids_text(const std::vector<std::vector<TokenId>>& docs) {
  std::string out;
  char buf[16];
  for (const auto& ids : docs) {
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) out.push_back(' ');
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, ids[i]);
      out.append(buf, end);
    }
    out.push_back('\n');
  }
  return out;
}

void append_ids_bin(const std::vector<TokenId>& ids, std::string& out) {
  auto put = [&](uint32_t v) {
    char b[4] = {static_cast<char>(v & 0xFF), static_cast<char>((v >> 8) & 0xFF),
                 static_cast<char>((v >> 16) & 0xFF), static_cast<char>(v >> 24)};
    out.append(b, 4);
  };
  put(static_cast<uint32_t>(ids.size()));
  for (TokenId id : ids) put(id);
}

std::vector<std::vector<TokenId>> parse_ids_text(std::string_view text, const std::string& origin) {
  std::vector<std::vector<TokenId>> docs;
  size_t line_no = 0, start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    ++line_no;
    std::vector<TokenId> ids;
    const char* p = text.data() + start;
    const char* e = text.data() + end;
    while (p < e) {
      if (*p == ' ' || *p == '\t' || *p == '\r') {
        ++p;
        continue;
      }
      uint32_t v = 0;
      auto [next, ec] = std::from_chars(p, e, v);
      if (ec != std::errc() || (next < e && *next != ' ' && *next != '\t' && *next != '\r'))
        throw_input_error(file_line(origin, static_cast<long long>(line_no)),
                          "expected token ids (non-negative integers separated by spaces)");
      ids.push_back(v);
      p = next;
    }
    docs.push_back(std::move(ids));
    start = end + 1;
  }
  return docs;
}

std::vector<std::vector<TokenId>> parse_ids_bin(std::string_view bytes, const std::string& origin) {
  std::vector<std::vector<TokenId>> docs;
  size_t pos = 0;
  auto get = [&](uint32_t& v) {
    if (bytes.size() - pos < 4) return false;
    const auto* b = reinterpret_cast<const unsigned char*>(bytes.data() + pos);
    v = b[0] | (uint32_t{b[1]} << 8) | (uint32_t{b[2]} << 16) | (uint32_t{b[3]} << 24);
    pos += 4;
    return true;
  };
  while (pos < bytes.size()) {
    uint32_t count;
    if (!get(count))
      throw_input_error(origin, "truncated ids.bin: " + std::to_string(bytes.size() - pos) +
                                    " trailing bytes at offset " + std::to_string(pos));
    if (count > (bytes.size() - pos) / 4)
      throw_input_error(origin, "truncated ids.bin: document " + std::to_string(docs.size()) +
                                    " declares " + std::to_string(count) + " ids at offset " +
                                    std::to_string(pos - 4) + " but the file ends first");
    std::vector<TokenId> ids(count);
    for (uint32_t i = 0; i < count; ++i) get(ids[i]);
    docs.push_back(std::move(ids));
  }
  return docs;
}

}  // namespace moai::tok
