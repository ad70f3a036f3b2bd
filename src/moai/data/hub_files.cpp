// Config and split resolution of Hub dataset repos (hub_files.h).
#include "moai/data/hub_files.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "moai/core/error.h"

namespace moai::data::hub {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// The YAML between a leading "---" line and the next "---" line; empty when there is none.
std::string front_matter(const std::string& readme) {
  std::string text = readme;
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text = text.substr(3);
  if (text.rfind("---", 0) != 0) return "";
  size_t first_eol = text.find('\n');
  if (first_eol == std::string::npos) return "";
  size_t pos = first_eol + 1;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    std::string line = text.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "---") return text.substr(first_eol + 1, pos - first_eol - 1);
    if (eol == std::string::npos) break;
    pos = eol + 1;
  }
  return "";
}

std::vector<std::string> string_list(const YAML::Node& node, const std::string& where) {
  std::vector<std::string> out;
  if (node.IsScalar()) {
    out.push_back(node.as<std::string>());
  } else if (node.IsSequence()) {
    for (const auto& item : node) {
      if (!item.IsScalar()) throw_input_error(where, "expected a path or a list of paths");
      out.push_back(item.as<std::string>());
    }
  } else {
    throw_input_error(where, "expected a path or a list of paths");
  }
  return out;
}

std::vector<SplitPatterns> parse_data_files(const YAML::Node& node, const std::string& where) {
  std::vector<SplitPatterns> splits;
  if (!node || node.IsNull()) return splits;
  if (node.IsScalar() || (node.IsSequence() && node.size() > 0 && node[0].IsScalar())) {
    splits.push_back({"train", string_list(node, where)});  // no split named: all is train
  } else if (node.IsSequence()) {
    for (const auto& item : node) {
      if (!item.IsMap() || !item["path"]) {
        throw_input_error(where, "each data_files entry needs split and path");
      }
      std::string split = item["split"] ? item["split"].as<std::string>() : "train";
      splits.push_back({split, string_list(item["path"], where + " " + split)});
    }
  } else if (node.IsMap()) {
    for (const auto& item : node) {
      std::string split = item.first.as<std::string>();
      splits.push_back({split, string_list(item.second, where + " " + split)});
    }
  }
  return splits;
}

// '*' and '?' within a segment, '**' across segments.
bool match_from(const char* p, const char* s) {
  while (*p != '\0') {
    if (p[0] == '*' && p[1] == '*') {
      p += 2;
      if (*p == '/') ++p;  // "**/" also matches nothing
      for (const char* t = s;; ++t) {
        if (match_from(p, t)) return true;
        if (*t == '\0') return false;
      }
    }
    if (*p == '*') {
      ++p;
      for (const char* t = s;; ++t) {
        if (match_from(p, t)) return true;
        if (*t == '\0' || *t == '/') return false;
      }
    }
    if (*s == '\0') return false;
    if (*p == '?') {
      if (*s == '/') return false;
    } else if (*p == '[') {
      const char* q = p + 1;
      bool negate = *q == '!' || *q == '^';
      if (negate) ++q;
      bool hit = false;
      const char* start = q;
      while (*q != '\0' && (*q != ']' || q == start)) {
        if (q[1] == '-' && q[2] != '\0' && q[2] != ']') {
          if (*s >= q[0] && *s <= q[2]) hit = true;
          q += 3;
        } else {
          if (*s == *q) hit = true;
          ++q;
        }
      }
      if (*q != ']') return *s == '[' && match_from(p + 1, s + 1);  // a literal '['
      if (hit == negate || *s == '/') return false;
      p = q;
    } else if (*p != *s) {
      return false;
    }
    ++p;
    ++s;
  }
  return *s == '\0';
}

struct SplitKeywords {
  const char* split;
  std::array<const char*, 4> words;
};
const SplitKeywords kSplitKeywords[] = {
    {"train", {"train", "training", nullptr, nullptr}},
    {"validation", {"validation", "valid", "dev", "val"}},
    {"test", {"test", "testing", "eval", "evaluation"}},
};

// Separators that may surround a split keyword in a name (datasets: "-._ 0-9").
bool is_separator(char c) {
  return c == '-' || c == '.' || c == '_' || c == ' ' ||
         std::isdigit(static_cast<unsigned char>(c));
}

bool name_has_keyword(const std::string& name, const std::string& word) {
  for (size_t pos = name.find(word); pos != std::string::npos; pos = name.find(word, pos + 1)) {
    bool left = pos == 0 || is_separator(name[pos - 1]);
    size_t after = pos + word.size();
    bool right = after == name.size() || is_separator(name[after]);
    if (left && right) return true;
  }
  return false;
}

// The split a file names: in its file name (by_dir false) or in a directory name (by_dir true).
std::string split_named(const std::string& path, bool by_dir) {
  std::string p = lower(path);
  size_t slash = p.rfind('/');
  std::vector<std::string> names;
  if (!by_dir) {
    names.push_back(slash == std::string::npos ? p : p.substr(slash + 1));
  } else if (slash != std::string::npos) {
    size_t start = 0;
    while (start < slash) {
      size_t next = p.find('/', start);
      names.push_back(p.substr(start, next - start));
      start = next + 1;
    }
  }
  for (const auto& keywords : kSplitKeywords) {
    for (const char* word : keywords.words) {
      if (word == nullptr) continue;
      for (const auto& name : names) {
        if (name_has_keyword(name, word)) return keywords.split;
      }
    }
  }
  return "";
}

std::vector<SplitFiles> group_by_split(const std::vector<RepoFile>& files, bool by_dir) {
  std::vector<SplitFiles> out;
  for (const auto& keywords : kSplitKeywords) {
    SplitFiles split{keywords.split, {}};
    for (const RepoFile& file : files) {
      if (is_data_file(file.path) && split_named(file.path, by_dir) == keywords.split) {
        split.files.push_back(file);
      }
    }
    if (!split.files.empty()) out.push_back(std::move(split));
  }
  return out;
}

}  // namespace

bool glob_match(const std::string& pattern, const std::string& path) {
  return match_from(pattern.c_str(), path.c_str());
}

bool is_data_file(const std::string& path) {
  std::string p = lower(path);
  for (const char* part : {"/.", "/_"}) {
    if (p.find(part) != std::string::npos) return false;  // hidden files, __pycache__ ...
  }
  if (p.rfind('.', 0) == 0 || p.rfind('_', 0) == 0) return false;
  if (ends_with(p, ".gz")) p.resize(p.size() - 3);
  if (ends_with(p, ".zst")) p.resize(p.size() - 4);
  for (const char* ext : {".parquet", ".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".txt"}) {
    if (ends_with(p, ext)) return true;
  }
  return false;
}

std::vector<ConfigSpec> parse_card_configs(const std::string& readme, const std::string& where) {
  std::vector<ConfigSpec> configs;
  std::string yaml = front_matter(readme);
  if (yaml.empty()) return configs;
  YAML::Node card;
  try {
    card = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    throw_input_error(where, std::string("bad YAML front matter: ") + e.what());
  }
  if (!card.IsMap() || !card["configs"]) return configs;
  const YAML::Node list = card["configs"];
  if (!list.IsSequence()) throw_input_error(where + ": configs", "expected a list");
  try {
    for (const auto& item : list) {
      ConfigSpec config;
      config.name = item["config_name"] ? item["config_name"].as<std::string>() : "default";
      config.is_default = item["default"] && item["default"].as<bool>();
      config.splits = parse_data_files(item["data_files"], where + ": config " + config.name);
      if (config.splits.empty()) {
        throw_input_error(where + ": config " + config.name, "has no data_files");
      }
      configs.push_back(std::move(config));
    }
  } catch (const YAML::Exception& e) {
    throw_input_error(where + ": configs", e.what());
  }
  return configs;
}

std::vector<SplitFiles> resolve_card_config(const ConfigSpec& config,
                                            const std::vector<RepoFile>& files,
                                            const std::string& where, bool partial_listing) {
  std::vector<SplitFiles> out;
  for (const SplitPatterns& split : config.splits) {
    SplitFiles resolved{split.split, {}};
    for (const std::string& pattern : split.patterns) {
      size_t before = resolved.files.size();
      for (const RepoFile& file : files) {
        if (glob_match(pattern, file.path) && is_data_file(file.path)) {
          resolved.files.push_back(file);
        }
      }
      if (resolved.files.size() == before && !partial_listing) {
        throw_input_error(where, "config " + config.name + ", split " + split.split +
                                     ": data_files pattern \"" + pattern +
                                     "\" matches no data file in the repo");
      }
    }
    out.push_back(std::move(resolved));
  }
  return out;
}

std::vector<SplitFiles> infer_splits(const std::vector<RepoFile>& files) {
  std::vector<SplitFiles> out = group_by_split(files, false);
  if (out.empty()) out = group_by_split(files, true);
  if (!out.empty()) return out;
  SplitFiles all{"train", {}};
  for (const RepoFile& file : files) {
    if (is_data_file(file.path)) all.files.push_back(file);
  }
  if (!all.files.empty()) out.push_back(std::move(all));
  return out;
}

}  // namespace moai::data::hub
