// moai tokenizer test: what a tokenizer is (vocab, merges, components, special ids), how it splits
// sample sentences, how well it compresses given texts (chars/token, bytes/token per input) and
// whether decode(encode(x)) gives the normalized text back; --compare puts several tokenizers side
// by side.
#include <cstdio>

#include "cli/command.h"
#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/tokenizer/tokenizer.h"
#include "moai/tokenizer/tokenizer_report.h"
#include "moai/tokenizer/unicode.h"

namespace moai::cli {
namespace {

struct TestOptions {
  std::string tokenizer_path;
  std::vector<std::string> compare;
  std::vector<std::string> texts;
  std::vector<std::string> input_files;  // [label=]path
  std::string split_docs = "blank";
  size_t threads = 0;
};

struct Input {
  std::string label;
  std::string text;
};

std::vector<Input> gather_inputs(const TestOptions& opt) {
  std::vector<Input> inputs;
  for (size_t i = 0; i < opt.texts.size(); ++i)
    inputs.push_back({"text" + std::to_string(i + 1), opt.texts[i]});
  for (const std::string& spec : opt.input_files) {
    const size_t eq = spec.find('=');
    const bool labelled = eq != std::string::npos && !file_exists(spec);
    const std::string path = labelled ? spec.substr(eq + 1) : spec;
    std::string label = labelled ? spec.substr(0, eq) : path.substr(path.find_last_of('/') + 1);
    size_t replaced = 0;
    std::string text = tok::sanitize_utf8(read_file(path), &replaced);
    if (text.empty()) throw_input_error(path, "input file is empty");
    if (replaced)
      std::fprintf(stderr, "warning: %s: %zu invalid UTF-8 sequences replaced by U+FFFD\n",
                   path.c_str(), replaced);
    inputs.push_back({label, std::move(text)});
  }
  return inputs;
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c == '"')
      out += "\\\"";
    else
      out.push_back(c);
  }
  return out + "\"";
}

void print_summary(const tok::Tokenizer& t, const std::string& path) {
  const tok::TokenizerSummary s = tok::summarize(t, path);
  std::printf("Tokenizer: %s\n", s.path.c_str());
  std::printf("  model: BPE, vocab size %zu (%zu added tokens), merges %zu\n", s.vocab_size,
              s.added_tokens, s.merges);
  std::printf("  normalizer: %s | pre-tokenizer: %s\n", s.normalizer.c_str(),
              s.pre_tokenizer.c_str());
  const tok::SpecialTokenIds& r = t.special_ids();
  auto role = [&](const char* name, const std::optional<tok::TokenId>& id) {
    if (id)
      std::printf("  %-9s %-16s id %u\n", name, t.id_to_token(*id).value_or("?").c_str(), *id);
    else
      std::printf("  %-9s -\n", name);
  };
  role("bos", r.bos);
  role("eos", r.eos);
  role("pad", r.pad);
  role("unk", r.unk);
  role("im_start", r.im_start);
  role("im_end", r.im_end);
  std::printf("  special tokens (%zu):", s.special_tokens.size());
  for (size_t i = 0; i < s.special_tokens.size() && i < 12; ++i)
    std::printf(" %s=%u", s.special_tokens[i].first.c_str(), s.special_tokens[i].second);
  std::printf("%s\n", s.special_tokens.size() > 12 ? " ..." : "");
}

void print_samples(const tok::Tokenizer& t) {
  std::printf("\nSamples (each token shown decoded):\n");
  size_t chars = 0, tokens = 0;
  for (const auto& [label, text] : tok::sample_texts()) {
    const auto ids = t.encode(text);
    chars += tok::count_code_points(text);
    tokens += ids.size();
    std::string shown;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids.size() > 12 && i == 6) {
        shown += " ...";
        i = ids.size() - 3;
      }
      shown += ' ';  // two appends: GCC 12 warns (-Wrestrict) on " " + std::string&&
      shown += quoted(t.decode(std::span(&ids[i], 1)));
    }
    std::printf("  %-13s %3zu tokens:%s\n", label.c_str(), ids.size(), shown.c_str());
  }
  std::printf("  samples: %zu chars, %zu tokens, %.2f chars/token (compression %.2f:1)\n", chars,
              tokens, tokens ? double(chars) / tokens : 0.0, tokens ? double(chars) / tokens : 0.0);
}

void print_stats_table(const std::vector<tok::TextStats>& stats) {
  std::printf("\n  %-14s %7s %11s %11s %10s %11s %11s %10s\n", "input", "docs", "chars", "bytes",
              "tokens", "chars/tok", "bytes/tok", "roundtrip");
  tok::TextStats total;
  total.label = "total";
  for (const auto& s : stats) {
    std::printf(
        "  %-14s %7zu %11zu %11zu %10zu %11.3f %11.3f %10s\n", s.label.c_str(), s.docs, s.chars,
        s.bytes, s.tokens, s.chars_per_token(), s.bytes_per_token(),
        s.round_trip_failures ? (std::to_string(s.round_trip_failures) + " bad").c_str() : "ok");
    total.docs += s.docs;
    total.chars += s.chars;
    total.bytes += s.bytes;
    total.tokens += s.tokens;
    total.round_trip_failures += s.round_trip_failures;
  }
  if (stats.size() > 1)
    std::printf(
        "  %-14s %7zu %11zu %11zu %10zu %11.3f %11.3f %10s\n", "total", total.docs, total.chars,
        total.bytes, total.tokens, total.chars_per_token(), total.bytes_per_token(),
        total.round_trip_failures ? (std::to_string(total.round_trip_failures) + " bad").c_str()
                                  : "ok");
}

void run_test(const TestOptions& opt) {
  const tok::DocSplit split = tok::parse_doc_split(opt.split_docs);
  const std::vector<Input> inputs = gather_inputs(opt);
  std::vector<std::string> paths = {opt.tokenizer_path};
  paths.insert(paths.end(), opt.compare.begin(), opt.compare.end());

  if (paths.size() == 1) {
    const tok::Tokenizer t = tok::Tokenizer::load(opt.tokenizer_path);
    print_summary(t, opt.tokenizer_path);
    print_samples(t);
    std::vector<tok::TextStats> stats;
    std::vector<Input> all = inputs;
    if (all.empty())
      for (const auto& [label, text] : tok::sample_texts()) all.push_back({label, text});
    for (const Input& in : all)
      stats.push_back(tok::measure_text(t, in.label, in.text, split, opt.threads));
    print_stats_table(stats);
    size_t bad = 0;
    for (const auto& s : stats) bad += s.round_trip_failures;
    if (bad)
      std::printf("\nround trip: %zu documents do not decode back to their normalized text\n", bad);
    return;
  }

  // Comparison table: one row per tokenizer, bytes/token per input.
  std::vector<Input> all = inputs;
  if (all.empty())
    for (const auto& [label, text] : tok::sample_texts()) all.push_back({label, text});
  std::printf("%-40s %8s %8s", "tokenizer", "vocab", "merges");
  for (const Input& in : all) std::printf(" %12s", (in.label + " B/tok").c_str());
  std::printf(" %10s\n", "roundtrip");
  for (const std::string& path : paths) {
    const tok::Tokenizer t = tok::Tokenizer::load(path);
    const tok::TokenizerSummary s = tok::summarize(t, path);
    std::string name = path.size() > 40 ? "..." + path.substr(path.size() - 37) : path;
    std::printf("%-40s %8zu %8zu", name.c_str(), s.vocab_size, s.merges);
    size_t bad = 0;
    for (const Input& in : all) {
      const tok::TextStats st = tok::measure_text(t, in.label, in.text, split, opt.threads);
      bad += st.round_trip_failures;
      std::printf(" %12.3f", st.bytes_per_token());
    }
    std::printf(" %10s\n", bad ? (std::to_string(bad) + " bad").c_str() : "ok");
  }
}

void register_test(CLI::App& root) {
  CLI::App& group = command_group(root, "tokenizer", "Train, test and use BPE tokenizers");
  auto opt = std::make_shared<TestOptions>();
  CLI::App* cmd = group.add_subcommand(
      "test", "Show a tokenizer's vocabulary, special ids, compression and round-trip checks");
  cmd->add_option(flag("tokenizer_path"), opt->tokenizer_path, "tokenizer.json or its directory")
      ->required();
  cmd->add_option(flag("compare"), opt->compare,
                  "more tokenizers to compare with (a table of bytes/token per input)");
  cmd->add_option(flag("text"), opt->texts, "a text to measure (repeatable)");
  cmd->add_option(flag("input_file"), opt->input_files,
                  "[LABEL=]FILE of UTF-8 text to measure, e.g. en=corpus/en.txt (repeatable)");
  cmd->add_option(flag("split_docs"), opt->split_docs, "documents in input files: blank|line|none")
      ->capture_default_str();
  cmd->add_option(flag("threads"), opt->threads, "encode threads (0 = all cores)");
  cmd->callback([opt] { run_test(*opt); });
}

}  // namespace
}  // namespace moai::cli

MOAI_REGISTER_COMMAND("tokenizer test", moai::cli::register_test);
