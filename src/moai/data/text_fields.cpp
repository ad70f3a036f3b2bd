#include "moai/data/text_fields.h"

#include "moai/data/record_reader.h"

namespace moai::data {

const std::vector<std::string> kTextFieldPriority = {
    "text",    "content",  "sentence", "document", "body",       "instruction", "input",
    "output",  "response", "answer",   "question", "prompt",     "completion",  "context",
    "passage", "query",    "reply",    "message",  "description"};

namespace {

bool nonempty_string(simdjson::dom::object record, const std::string& field) {
  std::string_view value;
  if (record.at_key(field).get_string().get(value)) return false;
  return !value.empty();
}

}  // namespace

std::string type_name(simdjson::dom::element element) {
  switch (element.type()) {
    case simdjson::dom::element_type::ARRAY:
      return "an array";
    case simdjson::dom::element_type::OBJECT:
      return "an object";
    case simdjson::dom::element_type::STRING:
      return "a string";
    case simdjson::dom::element_type::BOOL:
      return "a boolean";
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
    default:
      return "a number";
  }
}

std::vector<std::string> detect_text_fields(simdjson::dom::object record,
                                            const std::string& preferred) {
  if (!preferred.empty() && nonempty_string(record, preferred)) return {preferred};
  std::vector<std::string> fields;
  for (const std::string& field : kTextFieldPriority) {
    if (nonempty_string(record, field)) fields.push_back(field);
  }
  if (!fields.empty()) return fields;
  for (auto [key, value] : record) {
    std::string_view text;
    if (!value.get_string().get(text) && text.size() > 10) fields.emplace_back(key);
  }
  return fields;
}

void extract_text_fields(simdjson::dom::object record, const std::vector<std::string>& fields,
                         std::string& out) {
  out.clear();
  bool any_present = false;
  for (const std::string& field : fields) {
    simdjson::dom::element value;
    if (record.at_key(field).get(value)) continue;
    if (value.is_null()) continue;
    any_present = true;
    std::string_view text;
    if (value.get_string().get(text)) {
      throw BadRecord("field \"" + field + "\" is " + type_name(value) + ", expected a string");
    }
    if (text.empty()) continue;
    if (!out.empty()) out.push_back(' ');
    out.append(text);
  }
  if (!any_present) {
    std::string names;
    for (const auto& field : fields) names += (names.empty() ? "\"" : ", \"") + field + "\"";
    throw BadRecord("missing text field (expected " + names + ")");
  }
}

}  // namespace moai::data
