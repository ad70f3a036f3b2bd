#include "moai/tokenizer/tokenizer_report.h"

#include "moai/tokenizer/tokenizer_impl.h"

namespace moai::tok {
namespace {

std::string describe_component(const nlohmann::json& j) {
  if (j.is_null()) return "none";
  std::string type = j.value("type", "?");
  if (type == "Sequence") {
    const char* keys[] = {"normalizers", "pretokenizers", "processors", "decoders"};
    for (const char* key : keys) {
      if (!j.contains(key)) continue;
      std::string s;
      for (const auto& item : j[key]) s += (s.empty() ? "" : " + ") + describe_component(item);
      return s;
    }
  }
  if (type == "Split" && j.contains("pattern") && j["pattern"].contains("Regex")) {
    const std::string re = j["pattern"]["Regex"].get<std::string>();
    return re == kQwen2SplitPattern  ? "Split(Qwen2)"
           : re == kGpt2SplitPattern ? "Split(GPT-2)"
                                     : "Split";
  }
  if (type == "ByteLevel" && j.value("use_regex", true)) return "ByteLevel(GPT-2 regex)";
  return type;
}

}  // namespace

size_t count_code_points(std::string_view text) {
  size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

TokenizerSummary summarize(const Tokenizer& tokenizer, const std::string& path) {
  const TokenizerImpl& impl = tokenizer.impl();
  TokenizerSummary s;
  s.path = path;
  s.vocab_size = tokenizer.vocab_size();
  s.merges = impl.merge_count();
  s.added_tokens = impl.added_tokens().size();
  s.normalizer = describe_component(impl.component_json("normalizer"));
  s.pre_tokenizer = describe_component(impl.component_json("pre_tokenizer"));
  for (const AddedToken& t : impl.added_tokens())
    if (t.special) s.special_tokens.emplace_back(t.content, t.id);
  return s;
}

TextStats measure_text(const Tokenizer& tokenizer, const std::string& label, std::string_view text,
                       DocSplit split, size_t threads) {
  TextStats st;
  st.label = label;
  const auto docs = split_documents(text, split);
  st.docs = docs.size();
  const auto ids = tokenizer.encode_batch(docs, false, threads);
  for (size_t d = 0; d < docs.size(); ++d) {
    st.chars += count_code_points(docs[d]);
    st.bytes += docs[d].size();
    st.tokens += ids[d].size();
    if (tokenizer.decode(ids[d], false) != tokenizer.impl().normalized_text(docs[d]))
      ++st.round_trip_failures;
  }
  return st;
}

const std::vector<std::pair<std::string, std::string>>& sample_texts() {
  static const std::vector<std::pair<std::string, std::string>> samples = {
      {"English",
       "The quick brown fox jumps over the lazy dog while the bank raises interest rates."},
      {"Korean", "안녕하세요. 오늘은 날씨가 맑고 따뜻해서 산책하기 좋은 날입니다."},
      {"Japanese", "今日は天気が良いので、公園を散歩しました。桜がとても綺麗でした。"},
      {"Chinese", "今天天气很好，我们一起去公园散步吧。人工智能正在改变世界。"},
      {"Code", "def add(a: int, b: int) -> int:\n    return a + b  # sum\n"},
      {"Finance", "기준금리가 0.25%p 인상되어 연 3.50%가 되었고, 코스피는 2,450.12로 마감했다."},
      {"Finance (en)", "Q3 revenue rose 12.5% YoY to $4.2B; EPS was $1.37 vs. $1.21 expected."},
      {"Numbers", "1234567890 3.14159 2026-11-27 10:30:00 +82-2-1234-5678"},
      {"Mixed",
       "AI 모델(model)은 데이터를 学习하고 generates 텍스트 🤖 <|im_start|>"},
  };
  return samples;
}

}  // namespace moai::tok
