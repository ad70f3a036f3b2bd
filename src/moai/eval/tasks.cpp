#include "moai/eval/tasks.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "moai/core/error.h"
#include "moai/data/record_reader.h"
#include "moai/eval/text_util.h"
#include "moai/eval/wikitext.h"

namespace moai::eval {
namespace {

struct SubjectRow {
  const char* subject;
  const char* dataset_name;
  const char* category;
};

#include "moai/eval/task_tables.inc"

const std::vector<std::string> kMmluCategories = {"stem", "other", "social_sciences", "humanities"};
const std::vector<std::string> kKmmluCategories = {"stem", "other", "applied_science", "humss"};
const std::vector<std::string> kKobestTasks = {"kobest_boolq", "kobest_copa", "kobest_hellaswag",
                                               "kobest_sentineg", "kobest_wic"};

[[noreturn]] void bad_field(const std::string& field, const std::string& expected) {
  throw data::BadRecord("field \"" + field + "\": expected " + expected);
}

const nlohmann::ordered_json& field(const nlohmann::ordered_json& raw, const std::string& name) {
  if (!raw.is_object()) bad_field(name, "a JSON object record");
  auto it = raw.find(name);
  if (it == raw.end()) bad_field(name, "present");
  return *it;
}

std::string str(const nlohmann::ordered_json& raw, const std::string& name) {
  const nlohmann::ordered_json& v = field(raw, name);
  if (!v.is_string()) bad_field(name, "a string");
  return v.get<std::string>();
}

// An integer label, stored as a number or as a string of digits (Jinja renders both the same).
int integer(const nlohmann::ordered_json& raw, const std::string& name) {
  const nlohmann::ordered_json& v = field(raw, name);
  if (v.is_number_integer()) return v.get<int>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (!s.empty() && s.size() < 9 && std::all_of(s.begin(), s.end(), ::isdigit))
      return std::stoi(s);
  }
  bad_field(name, "an integer label");
}

std::vector<std::string> strings(const nlohmann::ordered_json& v, const std::string& name) {
  if (!v.is_array()) bad_field(name, "a list of strings");
  std::vector<std::string> out;
  for (const auto& e : v) {
    if (!e.is_string()) bad_field(name, "a list of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

void check_gold(const Doc& doc, const std::string& name) {
  if (doc.gold < 0 || doc.gold >= int(doc.choices.size()))
    bad_field(name, "a label within the " + std::to_string(doc.choices.size()) + " choices");
}

// hellaswag/utils.py preprocess: strip, " [title]" -> ". ", drop "[...]" (no newline inside, as
// `.` does not match one), "  " -> " ".
std::string hellaswag_preprocess(std::string_view text) {
  std::string s = py_replace(py_strip(text), " [title]", ". ");
  std::string out;
  for (size_t pos = 0; pos < s.size();) {
    if (s[pos] == '[') {
      const size_t close = s.find_first_of("]\n", pos + 1);
      if (close != std::string::npos && s[close] == ']') {
        pos = close + 1;
        continue;
      }
    }
    out.push_back(s[pos++]);
  }
  return py_replace(out, "  ", " ");
}

void process_hellaswag(Doc& d) {
  const std::string ctx = str(d.raw, "ctx_a") + " " + py_capitalize(str(d.raw, "ctx_b"));
  d.text = hellaswag_preprocess(str(d.raw, "activity_label") + ": " + ctx);
  for (const std::string& e : strings(field(d.raw, "endings"), "endings"))
    d.choices.push_back(hellaswag_preprocess(e));
  d.gold = integer(d.raw, "label");
}

void process_arc(Doc& d) {
  d.text = "Question: " + str(d.raw, "question") + "\nAnswer:";
  const nlohmann::ordered_json& choices = field(d.raw, "choices");
  if (!choices.is_object()) bad_field("choices", "an object {text, label}");
  d.choices = strings(field(choices, "text"), "choices.text");
  const std::vector<std::string> labels = strings(field(choices, "label"), "choices.label");
  const std::string key = str(d.raw, "answerKey");
  auto it = std::find(labels.begin(), labels.end(), key);
  if (it == labels.end()) bad_field("answerKey", "one of choices.label");
  d.gold = int(it - labels.begin());
}

void process_piqa(Doc& d) {
  d.text = "Question: " + str(d.raw, "goal") + "\nAnswer:";
  d.choices = {str(d.raw, "sol1"), str(d.raw, "sol2")};
  d.gold = integer(d.raw, "label");
}

void process_mmlu(Doc& d) {
  const std::vector<std::string> c = strings(field(d.raw, "choices"), "choices");
  if (c.size() != 4) bad_field("choices", "4 strings");
  d.text = std::string(py_strip(str(d.raw, "question"))) + "\nA. " + c[0] + "\nB. " + c[1] +
           "\nC. " + c[2] + "\nD. " + c[3] + "\nAnswer:";
  d.choices = {"A", "B", "C", "D"};
  d.gold = integer(d.raw, "answer");
}

void process_kmmlu(Doc& d) {
  d.text = std::string(py_strip(str(d.raw, "question"))) + "\nA. " + str(d.raw, "A") + "\nB. " +
           str(d.raw, "B") + "\nC. " + str(d.raw, "C") + "\nD. " + str(d.raw, "D") + "\n정답：";
  d.choices = {"A", "B", "C", "D"};
  d.gold = integer(d.raw, "answer") - 1;
}

void process_kobest_boolq(Doc& d) {
  d.text = str(d.raw, "paragraph") + " 질문: " + str(d.raw, "question") + " 답변: ";
  d.choices = {"아니오", "예"};
  d.gold = integer(d.raw, "label");
}

void process_kobest_copa(Doc& d) {
  const std::string q(py_strip(str(d.raw, "question")));
  std::string connector;
  if (q == "원인") {
    connector = " 왜냐하면";
  } else if (q == "결과") {
    connector = " 그래서";
  } else {
    bad_field("question", "\"원인\" or \"결과\"");
  }
  d.text = str(d.raw, "premise") + " " + connector;
  d.choices = {str(d.raw, "alternative_1"), str(d.raw, "alternative_2")};
  // doc_to_target returns the correct alternative's text; the gold index is its first occurrence.
  const std::string target = integer(d.raw, "label") == 0 ? d.choices[0] : d.choices[1];
  d.gold = int(std::find(d.choices.begin(), d.choices.end(), target) - d.choices.begin());
}

void process_kobest_hellaswag(Doc& d) {
  d.text = "문장: " + str(d.raw, "context");
  for (int i = 1; i <= 4; ++i) d.choices.push_back(str(d.raw, "ending_" + std::to_string(i)));
  d.gold = integer(d.raw, "label");
}

void process_kobest_sentineg(Doc& d) {
  d.text = "문장: " + str(d.raw, "sentence") + " 긍부정:";
  d.choices = {"부정", "긍정"};
  d.gold = integer(d.raw, "label");
}

void process_kobest_wic(Doc& d) {
  d.text = "문장1: " + str(d.raw, "context_1") + " 문장2: " + str(d.raw, "context_2") +
           " 두 문장에서 " + str(d.raw, "word") + "가 같은 뜻으로 쓰였나?";
  d.choices = {"아니오", "예"};
  d.gold = integer(d.raw, "label");
}

void process_wikitext(Doc& d) {
  const std::string page = str(d.raw, "page");
  d.target = wikitext_detokenize(page);
  d.words = int64_t(py_split_whitespace_count(page));
  d.bytes = int64_t(page.size());
}

const std::map<std::string, std::function<void(Doc&)>>& processors() {
  static const std::map<std::string, std::function<void(Doc&)>> table = {
      {"hellaswag", process_hellaswag},
      {"arc", process_arc},
      {"piqa", process_piqa},
      {"mmlu", process_mmlu},
      {"kmmlu", process_kmmlu},
      {"kobest_boolq", process_kobest_boolq},
      {"kobest_copa", process_kobest_copa},
      {"kobest_hellaswag", process_kobest_hellaswag},
      {"kobest_sentineg", process_kobest_sentineg},
      {"kobest_wic", process_kobest_wic},
      {"wikitext", process_wikitext},
  };
  return table;
}

TaskSpec multiple_choice(const std::string& name, const std::string& format,
                         const std::string& path, const std::string& config,
                         const std::string& eval_split, const std::string& fewshot_split,
                         std::vector<std::string> metrics) {
  TaskSpec t;
  t.name = name;
  t.format = format;
  t.dataset_path = path;
  t.dataset_name = config;
  t.eval_split = eval_split;
  t.fewshot_split = fewshot_split;
  t.metrics = std::move(metrics);
  return t;
}

std::map<std::string, TaskSpec> build_tasks() {
  std::map<std::string, TaskSpec> tasks;
  auto add = [&](TaskSpec t) { tasks[t.name] = std::move(t); };
  TaskSpec hs = multiple_choice("hellaswag", "hellaswag", "Rowan/hellaswag", "", "validation",
                                "train", {"acc", "acc_norm"});
  hs.extra_fewshot_draw = true;  // fewshot_split and test_split both unset
  add(hs);
  add(multiple_choice("arc_easy", "arc", "allenai/ai2_arc", "ARC-Easy", "test", "train",
                      {"acc", "acc_norm"}));
  add(multiple_choice("arc_challenge", "arc", "allenai/ai2_arc", "ARC-Challenge", "test", "train",
                      {"acc", "acc_norm"}));
  TaskSpec piqa =
      multiple_choice("piqa", "piqa", "baber/piqa", "", "validation", "train", {"acc", "acc_norm"});
  piqa.extra_fewshot_draw = true;
  add(piqa);
  for (const SubjectRow& row : kMmluSubjects) {
    TaskSpec t = multiple_choice(std::string("mmlu_") + row.subject, "mmlu", "cais/mmlu",
                                 row.dataset_name, "test", "dev", {"acc"});
    t.sampler = SamplerKind::kFirstN;
    t.description = "The following are multiple choice questions (with answers) about " +
                    py_replace(row.subject, "_", " ") + ".\n\n";
    add(t);
  }
  for (const SubjectRow& row : kKmmluSubjects) {
    TaskSpec t = multiple_choice(std::string("kmmlu_") + row.subject, "kmmlu", "HAERAE-HUB/KMMLU",
                                 row.dataset_name, "test", "dev", {"acc"});
    t.version = 2.0;
    add(t);
  }
  for (const std::string& name : kKobestTasks) {
    const std::string config = name.substr(std::string("kobest_").size());
    std::vector<std::string> metrics = {"acc", "f1"};
    if (config == "hellaswag") metrics = {"acc", "acc_norm", "f1"};
    add(multiple_choice(name, name, "skt/kobest_v1", config, "test", "train", metrics));
  }
  TaskSpec wiki;
  wiki.name = "wikitext";
  wiki.format = "wikitext";
  wiki.dataset_path = "EleutherAI/wikitext_document_level";
  wiki.dataset_name = "wikitext-2-raw-v1";
  wiki.eval_split = "test";
  wiki.fewshot_split = "train";
  wiki.output_type = OutputType::kLoglikelihoodRolling;
  wiki.metrics = {"word_perplexity", "byte_perplexity", "bits_per_byte"};
  wiki.version = 2.0;
  add(wiki);
  return tasks;
}

const std::map<std::string, TaskSpec>& all_tasks() {
  static const std::map<std::string, TaskSpec> tasks = build_tasks();
  return tasks;
}

std::map<std::string, GroupSpec> build_groups() {
  std::map<std::string, GroupSpec> groups;
  auto subject_groups = [&](const std::string& prefix, const std::vector<SubjectRow>& rows,
                            const std::vector<std::string>& categories, double version) {
    GroupSpec top{prefix, {}, {"acc"}, version};
    for (const std::string& cat : categories) {
      GroupSpec g{prefix + "_" + cat, {}, {"acc"}, version};
      for (const SubjectRow& row : rows)
        if (cat == row.category) g.members.push_back(prefix + "_" + row.subject);
      top.members.push_back(g.name);
      groups[g.name] = g;
    }
    groups[prefix] = top;
  };
  subject_groups("mmlu", kMmluSubjects, kMmluCategories, 2.0);
  subject_groups("kmmlu", kKmmluSubjects, kKmmluCategories, 2.0);
  groups["kobest"] = GroupSpec{"kobest", kKobestTasks, {"acc", "acc_norm", "f1"}, 1.0};
  return groups;
}

const std::map<std::string, GroupSpec>& all_groups() {
  static const std::map<std::string, GroupSpec> groups = build_groups();
  return groups;
}

std::string known_list() {
  std::string out;
  for (const std::string& n : known_task_names()) out += (out.empty() ? "" : ", ") + n;
  return out + " (and mmlu_<subject>, kmmlu_<subject>)";
}

void expand_into(const std::string& name, std::vector<std::string>& out,
                 std::set<std::string>& seen) {
  auto g = all_groups().find(name);
  if (g != all_groups().end()) {
    for (const std::string& m : g->second.members) expand_into(m, out, seen);
    return;
  }
  if (!all_tasks().count(name))
    throw_input_error("--tasks", "unknown task \"" + name + "\"; known: " + known_list());
  if (seen.insert(name).second) out.push_back(name);
}

void collect_groups(const std::string& name, std::vector<GroupSpec>& out,
                    std::set<std::string>& seen) {
  auto g = all_groups().find(name);
  if (g == all_groups().end()) return;
  for (const std::string& m : g->second.members) collect_groups(m, out, seen);
  if (seen.insert(name).second) out.push_back(g->second);
}

}  // namespace

void TaskSpec::process(Doc& doc) const {
  processors().at(format)(doc);
  if (output_type == OutputType::kMultipleChoice) check_gold(doc, "label");
}

TaskSpec find_task(const std::string& name) {
  auto it = all_tasks().find(name);
  if (it == all_tasks().end())
    throw_input_error("--tasks", "unknown task \"" + name + "\"; known: " + known_list());
  return it->second;
}

std::vector<std::string> expand_tasks(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const std::string& n : names) expand_into(n, out, seen);
  return out;
}

std::vector<GroupSpec> groups_for(const std::vector<std::string>& names) {
  std::vector<GroupSpec> out;
  std::set<std::string> seen;
  for (const std::string& n : names) collect_groups(n, out, seen);
  return out;
}

std::vector<std::string> known_task_names() {
  // Groups and the non-subject tasks; subjects (mmlu_*, kmmlu_*) are listed through their groups.
  std::vector<std::string> names;
  for (const auto& [name, g] : all_groups()) names.push_back(name);
  for (const auto& [name, t] : all_tasks())
    if (t.format != "mmlu" && t.format != "kmmlu") names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace moai::eval
