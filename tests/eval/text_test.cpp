// Python str semantics and the harness's text processing: rstrip with Unicode whitespace,
// capitalize, code-point length, re.split word count, the wikitext detokenizer and hellaswag's
// preprocess on strings where a byte-wise or ASCII-only version would differ.
#include <gtest/gtest.h>

#include "moai/data/record_reader.h"
#include "moai/eval/evaluator.h"
#include "moai/eval/tasks.h"
#include "moai/eval/text_util.h"
#include "moai/eval/wikitext.h"

namespace moai::eval {
namespace {

TEST(TextUtilTest, PythonWhitespaceAndStrip) {
  EXPECT_EQ(py_rstrip("a b \t\n"), "a b");
  EXPECT_EQ(py_rstrip("답변: \xC2\xA0"), "답변:");         // NO-BREAK SPACE is whitespace
  EXPECT_EQ(py_rstrip("x\xE3\x80\x80"), "x");              // IDEOGRAPHIC SPACE
  EXPECT_EQ(py_rstrip("x\xE2\x80\x8B"), "x\xE2\x80\x8B");  // ZERO WIDTH SPACE is not
  EXPECT_EQ(py_strip("\x1f a \x1c"), "a");
  EXPECT_EQ(py_len("정답："), 3u);
  EXPECT_EQ(py_len("abc"), 3u);
  EXPECT_EQ(py_rstrip("a\x85"), "a\x85");  // a stray byte is not NEL (U+0085 is "\xC2\x85")
  EXPECT_EQ(py_rstrip("a\xC2\x85"), "a");
  const std::string stray = std::string("\xFF") + "ab";  // a byte that is no character, then "ab"
  EXPECT_EQ(py_capitalize(stray), stray);
}

TEST(TextUtilTest, CapitalizeLowersTheRest) {
  EXPECT_EQ(py_capitalize("hELLO World"), "Hello world");
  EXPECT_EQ(py_capitalize("ÉCOLE"), "École");
  EXPECT_EQ(py_capitalize(""), "");
}

TEST(TextUtilTest, SplitWhitespaceCountsEmptyEnds) {
  EXPECT_EQ(py_split_whitespace_count("a b  c"), 3u);
  EXPECT_EQ(py_split_whitespace_count(" a b \n"), 4u);  // ['', 'a', 'b', '']
  EXPECT_EQ(py_split_whitespace_count(""), 1u);
}

TEST(WikitextTest, DetokenizerSteps) {
  // Expected strings from the harness's wikitext_detokenizer run in CPython 3.11.
  EXPECT_EQ(wikitext_detokenize(" = = Heading = = \n"), " == Heading ==\n");
  EXPECT_EQ(wikitext_detokenize("1 @,@ 000 ( a b ) \" q \" 3 @-@ 4"), "1,000 (a b) \"q\" 3-4");
  EXPECT_EQ(wikitext_detokenize("cats ' toy /' 5/"), "cats'toy /'[0-9]/");
  EXPECT_EQ(wikitext_detokenize("x ( unclosed"), "x ( unclosed");
  EXPECT_EQ(wikitext_detokenize("a N b 's"), "a 1 b's");
}

TEST(TasksTest, UnknownTaskListsKnownOnes) {
  try {
    expand_tasks({"hellaswag", "nope"});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unknown task \"nope\""), std::string::npos) << msg;
    EXPECT_NE(msg.find("hellaswag"), std::string::npos) << msg;
    EXPECT_NE(msg.find("kmmlu"), std::string::npos) << msg;
  }
}

TEST(TasksTest, GroupsExpandToSubjects) {
  EXPECT_EQ(expand_tasks({"mmlu"}).size(), 57u);
  EXPECT_EQ(expand_tasks({"kmmlu"}).size(), 45u);
  EXPECT_EQ(expand_tasks({"kobest"}).size(), 5u);
  EXPECT_EQ(expand_tasks({"mmlu_stem", "mmlu_abstract_algebra"}).size(),
            expand_tasks({"mmlu_stem"}).size());
  const auto groups = groups_for({"mmlu"});
  EXPECT_EQ(groups.size(), 5u);
  EXPECT_EQ(groups.back().name, "mmlu");
}

TEST(TasksTest, HellaswagPreprocessing) {
  Doc d;
  d.raw = nlohmann::json::parse(
      R"({"activity_label":"Cooking","ctx_a":"A man cuts. [header] x","ctx_b":"tHE ONION","endings":["  a [title] b  ","c [x\ny] d","e","f"],"label":"2"})");
  find_task("hellaswag").process(d);
  EXPECT_EQ(d.text, "Cooking: A man cuts. x The onion");
  EXPECT_EQ(d.choices[0], "a. b");
  EXPECT_EQ(d.choices[1], "c [x\ny] d");  // `.` does not match a newline
  EXPECT_EQ(d.gold, 2);
}

TEST(TasksTest, MalformedRecordNamesTheField) {
  Doc d;
  d.raw = nlohmann::json::parse(R"({"goal":"g","sol1":"a","label":0})");
  try {
    find_task("piqa").process(d);
    FAIL() << "expected BadRecord";
  } catch (const data::BadRecord& e) {
    EXPECT_NE(std::string(e.what()).find("sol2"), std::string::npos) << e.what();
  }
  d.raw = nlohmann::json::parse(R"({"goal":"g","sol1":"a","sol2":"b","label":5})");
  EXPECT_THROW(find_task("piqa").process(d), data::BadRecord);
}

TEST(ContextTest, ChatTemplateWrapsDescriptionAndQuestion) {
  // lm-eval --apply_chat_template: description as the system turn, the question as the user turn,
  // a generation prompt, and an empty target delimiter.
  const TaskSpec task = find_task("mmlu_anatomy");
  Doc d;
  d.raw = nlohmann::json::parse(R"({"question":" Q? ","choices":["a","b","c","d"],"answer":1})");
  task.process(d);
  ContextBuilder chat(task, nullptr, 0, 1234, true);
  EXPECT_EQ(chat.target_delimiter(), "");
  EXPECT_EQ(chat.build(d), "<|im_start|>system\n" + task.description +
                               "<|im_end|>\n<|im_start|>user\n" + d.text +
                               "<|im_end|>\n<|im_start|>assistant\n");
  ContextBuilder plain(task, nullptr, 0, 1234, false);
  EXPECT_EQ(plain.target_delimiter(), " ");
  EXPECT_EQ(plain.build(d), task.description + "Q?\nA. a\nB. b\nC. c\nD. d\nAnswer:");
}

}  // namespace
}  // namespace moai::eval
