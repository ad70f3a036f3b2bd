// moai tokenizer encode | decode: pipe-friendly conversion between UTF-8 text and token ids.
//   encode: text (--input FILE or stdin) -> documents (--split_docs) -> ids, as text (one document
//   per
//           line, ids separated by spaces) or --format bin (the golden .ids.bin layout).
//   decode: the inverse; with --split_docs line each document is followed by "\n".
#include <cstdio>
#include <iostream>
#include <iterator>
#include <optional>

#include "cli/command.h"
#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/core/interrupt.h"
#include "moai/core/log.h"
#include "moai/core/progress.h"
#include "moai/tokenizer/documents.h"
#include "moai/tokenizer/tokenizer.h"
#include "moai/tokenizer/unicode.h"

namespace moai::cli {
namespace {

struct CodecOptions {
  std::string tokenizer_path;
  std::string input = "-";
  std::string output = "-";
  std::string split_docs = "blank";
  std::string format = "text";
  bool add_special_tokens = false;
  bool skip_special_tokens = false;
  size_t threads = 0;
};

std::string read_input(const std::string& path) {
  if (path != "-") return read_file(path);
  std::string data((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  if (std::cin.bad()) throw_io_error("<stdin>", "read failed");
  return data;
}

void write_output(const std::string& path, const std::string& data) {
  if (path != "-") {
    write_file_atomic(path, data);
    return;
  }
  if (std::fwrite(data.data(), 1, data.size(), stdout) != data.size() || std::fflush(stdout) != 0)
    throw_io_error("<stdout>", "write failed");
}

void check_format(const std::string& format) {
  if (format != "text" && format != "bin")
    throw_input_error("--format", "expected text or bin, got '" + format + "'");
}

void run_encode(const CodecOptions& opt) {
  check_format(opt.format);
  const tok::DocSplit split = tok::parse_doc_split(opt.split_docs);
  const tok::Tokenizer tokenizer = tok::Tokenizer::load(opt.tokenizer_path);
  size_t replaced = 0;
  const std::string text = tok::sanitize_utf8(read_input(opt.input), &replaced);
  if (replaced)
    MOAI_WARN(opt.input << ": " << replaced << " invalid UTF-8 sequences replaced by U+FFFD");
  const auto docs = tok::split_documents(text, split);
  // Encode in chunks so a long input shows progress and stops cleanly on Ctrl-C.
  constexpr size_t kChunkDocs = 2048;
  // A progress bar only for inputs that take a noticeable time (tens of MB/s).
  std::optional<ProgressBar> progress;
  if (text.size() > (16u << 20)) progress.emplace("encode", text.size(), "B");
  std::string out;
  for (size_t begin = 0; begin < docs.size(); begin += kChunkDocs) {
    if (interrupt_requested()) throw InputError("interrupted: output not written");
    const size_t end = std::min(docs.size(), begin + kChunkDocs);
    std::vector<std::string> chunk(docs.begin() + begin, docs.begin() + end);
    const auto ids = tokenizer.encode_batch(chunk, opt.add_special_tokens, opt.threads);
    if (opt.format == "bin") {
      for (const auto& d : ids) tok::append_ids_bin(d, out);
    } else {
      out += tok::format_ids_text(ids);
    }
    size_t bytes = 0;
    for (const auto& d : chunk) bytes += d.size();
    if (progress) progress->add(bytes);
  }
  if (progress) progress->finish();
  write_output(opt.output, out);
}

void run_decode(const CodecOptions& opt) {
  check_format(opt.format);
  const tok::DocSplit split = tok::parse_doc_split(opt.split_docs);
  const tok::Tokenizer tokenizer = tok::Tokenizer::load(opt.tokenizer_path);
  const std::string origin = opt.input == "-" ? "<stdin>" : opt.input;
  const std::string data = read_input(opt.input);
  const auto docs =
      opt.format == "bin" ? tok::parse_ids_bin(data, origin) : tok::parse_ids_text(data, origin);
  const size_t vocab = tokenizer.vocab_size();
  std::string out;
  for (size_t d = 0; d < docs.size(); ++d) {
    for (tok::TokenId id : docs[d]) {
      if (id >= vocab)
        throw_input_error(origin + ": document " + std::to_string(d + 1),
                          "token id " + std::to_string(id) + " is outside the vocabulary (size " +
                              std::to_string(vocab) + ")");
    }
    out += tokenizer.decode(docs[d], opt.skip_special_tokens);
    if (split == tok::DocSplit::kLine) out.push_back('\n');
  }
  write_output(opt.output, out);
}

void add_common(CLI::App* cmd, CodecOptions& opt) {
  cmd->add_option(flag("tokenizer_path"), opt.tokenizer_path, "tokenizer.json or its directory")
      ->required();
  cmd->add_option(flag("input"), opt.input, "input file ('-' = stdin)")->capture_default_str();
  cmd->add_option(flag("output"), opt.output, "output file ('-' = stdout)")->capture_default_str();
  cmd->add_option(flag("split_docs"), opt.split_docs,
                  "documents: blank (text between blank lines, plus the \"\\n\\n\"), line, none")
      ->capture_default_str();
  cmd->add_option(flag("format"), opt.format, "ids as text (a line per document) or bin (.ids.bin)")
      ->capture_default_str();
}

void register_codec(CLI::App& root) {
  CLI::App& group = command_group(root, "tokenizer", "Train, test and use BPE tokenizers");
  auto enc = std::make_shared<CodecOptions>();
  CLI::App* encode = group.add_subcommand("encode", "Encode UTF-8 text to token ids");
  add_common(encode, *enc);
  encode->add_flag(flag("add_special_tokens"), enc->add_special_tokens,
                   "apply the post-processor template (e.g. <s> ... </s>)");
  encode->add_option(flag("threads"), enc->threads, "encode threads (0 = all cores)");
  encode->callback([enc] { run_encode(*enc); });

  auto dec = std::make_shared<CodecOptions>();
  CLI::App* decode = group.add_subcommand("decode", "Decode token ids back to text");
  add_common(decode, *dec);
  decode->add_flag(flag("skip_special_tokens"), dec->skip_special_tokens,
                   "drop added tokens marked special");
  decode->callback([dec] { run_decode(*dec); });
}

}  // namespace
}  // namespace moai::cli

MOAI_REGISTER_COMMAND("tokenizer encode", moai::cli::register_codec);
