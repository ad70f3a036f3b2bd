#include "moai/data/sft_format.h"

#include <simdjson.h>

#include "moai/data/record_reader.h"
#include "moai/data/text_fields.h"

namespace moai::data {
namespace {

using simdjson::dom::element;
using simdjson::dom::object;

struct FormatName {
  SftFormat format;
  const char* name;
};
constexpr FormatName kFormatNames[] = {
    {SftFormat::kAuto, "auto"},
    {SftFormat::kChat, "chat"},
    {SftFormat::kChat, "messages"},
    {SftFormat::kShareGpt, "sharegpt"},
    {SftFormat::kAlpaca, "alpaca"},
    {SftFormat::kQuestionAnswer, "question_answer"},
    {SftFormat::kQuestionAnswer, "qa"},
    {SftFormat::kPromptResponse, "prompt_response"},
    {SftFormat::kPromptCompletion, "prompt_completion"},
    {SftFormat::kInputOutput, "input_output"},
    {SftFormat::kR1, "r1"},
};

element parse_record(simdjson::dom::parser& parser, std::string_view json) {
  element root;
  if (auto error = parser.parse(json.data(), json.size(), true).get(root)) {
    throw BadRecord(std::string("malformed JSON: ") + simdjson::error_message(error));
  }
  if (!root.is_object()) throw BadRecord("expected a JSON object, got " + type_name(root));
  return root;
}

bool has(object record, const char* field) {
  element value;
  return !record.at_key(field).get(value) && !value.is_null();
}

// A required string field.
std::string get_string(object record, const char* field, const std::string& context = "") {
  element value;
  if (record.at_key(field).get(value) || value.is_null()) {
    throw BadRecord(context + "missing field \"" + field + "\"");
  }
  std::string_view text;
  if (value.get_string().get(text)) {
    throw BadRecord(context + "field \"" + field + "\" is " + type_name(value) +
                    ", expected a string");
  }
  return std::string(text);
}

// An optional string field: empty when absent or null.
std::string get_optional(object record, const char* field, const std::string& context = "") {
  return has(record, field) ? get_string(record, field, context) : std::string();
}

std::string normalize_role(std::string_view role, bool sharegpt, const std::string& context) {
  if (role == "system") return "system";
  if (role == "user" || (sharegpt && role == "human")) return "user";
  if (role == "assistant" ||
      (sharegpt && (role == "gpt" || role == "chatgpt" || role == "model"))) {
    return "assistant";
  }
  throw BadRecord(
      context + "unknown role \"" + std::string(role) + "\" (expected " +
      (sharegpt ? "human, user, gpt, assistant or system" : "system, user or assistant") + ")");
}

std::vector<tok::ChatMessage> conversation(object record, bool sharegpt) {
  const char* list_field = sharegpt ? "conversations" : "messages";
  const char* role_field = sharegpt ? "from" : "role";
  const char* content_field = sharegpt ? "value" : "content";
  element list;
  if (record.at_key(list_field).get(list))
    throw BadRecord(std::string("missing field \"") + list_field + "\"");
  simdjson::dom::array array;
  if (list.get_array().get(array)) {
    throw BadRecord(std::string("\"") + list_field + "\" is " + type_name(list) +
                    ", expected a list of {" + role_field + ", " + content_field + "}");
  }
  std::vector<tok::ChatMessage> messages;
  size_t index = 0;
  for (element item : array) {
    std::string context = std::string(list_field) + "[" + std::to_string(index++) + "]: ";
    object message;
    if (item.get_object().get(message)) {
      throw BadRecord(context + "is " + type_name(item) + ", expected {" + role_field + ", " +
                      content_field + "}");
    }
    tok::ChatMessage m;
    m.role = normalize_role(get_string(message, role_field, context), sharegpt, context);
    m.content = get_string(message, content_field, context);
    if (m.role == "assistant")
      m.reasoning_content = get_optional(message, "reasoning_content", context);
    messages.push_back(std::move(m));
  }
  return messages;
}

std::vector<tok::ChatMessage> flat(object record, std::string user, const char* answer_field) {
  std::vector<tok::ChatMessage> messages;
  std::string system = get_optional(record, "system");
  if (!system.empty()) messages.push_back({"system", system, ""});
  messages.push_back({"user", std::move(user), ""});
  messages.push_back(
      {"assistant", get_string(record, answer_field), get_optional(record, "reasoning_content")});
  return messages;
}

}  // namespace

std::string sft_format_name(SftFormat format) {
  for (const auto& entry : kFormatNames) {
    if (entry.format == format) return entry.name;
  }
  return "?";
}

SftFormat parse_sft_format(const std::string& name) {
  for (const auto& entry : kFormatNames) {
    if (name == entry.name) return entry.format;
  }
  throw InputError("--sft_format: \"" + name +
                   "\": expected auto, chat, sharegpt, alpaca, question_answer, prompt_response, "
                   "prompt_completion, input_output or r1");
}

SftFormat detect_sft_format(std::string_view json) {
  simdjson::dom::parser parser;
  object record = parse_record(parser, json).get_object().value_unsafe();
  if (has(record, "messages")) return SftFormat::kChat;
  if (has(record, "conversations")) return SftFormat::kShareGpt;
  if (has(record, "instruction")) return SftFormat::kAlpaca;
  if (has(record, "question") && has(record, "answer")) return SftFormat::kQuestionAnswer;
  if (has(record, "prompt") && has(record, "response")) return SftFormat::kPromptResponse;
  if (has(record, "prompt") && has(record, "completion")) return SftFormat::kPromptCompletion;
  if (has(record, "input") && has(record, "output")) return SftFormat::kInputOutput;
  if (has(record, "content") && has(record, "reasoning_content")) return SftFormat::kR1;
  std::string keys;
  for (auto [key, value] : record) keys += (keys.empty() ? "" : ", ") + std::string(key);
  throw BadRecord("unknown SFT format (fields: " + keys +
                  "); expected messages, conversations, instruction/output, question/answer, "
                  "prompt/response, prompt/completion, input/output or content/reasoning_content; "
                  "choose with --sft_format");
}

std::vector<tok::ChatMessage> sft_record_to_messages(std::string_view json, SftFormat format) {
  simdjson::dom::parser parser;
  object record = parse_record(parser, json).get_object().value_unsafe();
  std::vector<tok::ChatMessage> messages;
  switch (format) {
    case SftFormat::kChat:
      messages = conversation(record, false);
      break;
    case SftFormat::kShareGpt:
      messages = conversation(record, true);
      break;
    case SftFormat::kAlpaca: {
      std::string user = get_string(record, "instruction");
      std::string input = get_optional(record, "input");
      if (!input.empty()) user += "\n\n" + input;
      messages = flat(record, std::move(user), "output");
      break;
    }
    case SftFormat::kQuestionAnswer:
      messages = flat(record, get_string(record, "question"), "answer");
      break;
    case SftFormat::kPromptResponse:
      messages = flat(record, get_string(record, "prompt"), "response");
      break;
    case SftFormat::kPromptCompletion:
      messages = flat(record, get_string(record, "prompt"), "completion");
      break;
    case SftFormat::kInputOutput:
      messages = flat(record, get_string(record, "input"), "output");
      break;
    case SftFormat::kR1: {
      const char* user_field = has(record, "input")    ? "input"
                               : has(record, "prompt") ? "prompt"
                                                       : "question";
      messages = flat(record, get_string(record, user_field), "content");
      break;
    }
    case SftFormat::kAuto:
      return sft_record_to_messages(json, detect_sft_format(json));
  }
  bool trainable = false;
  for (const auto& m : messages) {
    trainable |= m.role == "assistant" && !(m.content.empty() && m.reasoning_content.empty());
  }
  if (!trainable) throw BadRecord("no non-empty assistant turn to train on");
  return messages;
}

}  // namespace moai::data
