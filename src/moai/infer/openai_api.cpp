#include "moai/infer/openai_api.h"

#include <cmath>
#include <limits>

namespace moai::infer {

using nlohmann::json;

namespace {

[[noreturn]] void bad(const std::string& param, const std::string& message) {
  throw ApiError{400, message, "invalid_request_error", param, ""};
}

const char* type_name(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

double number_field(const json& body, const char* key, double lo, double hi) {
  const json& v = body[key];
  if (!v.is_number()) bad(key, std::string(key) + ": expected a number, got " + type_name(v));
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    bad(key, std::string(key) + ": " + v.dump() + " is out of range [" + json(lo).dump() + ", " +
                 json(hi).dump() + "]");
  return x;
}

int64_t integer_field(const json& body, const char* key, int64_t lo, int64_t hi) {
  const json& v = body[key];
  if (!v.is_number_integer() &&
      !(v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()))
    bad(key, std::string(key) + ": expected an integer, got " +
                 (v.is_number() ? v.dump() : type_name(v)));
  const double d = v.get<double>();
  if (d < double(lo) || d > double(hi))
    bad(key, std::string(key) + ": " + v.dump() + " is out of range [" + std::to_string(lo) + ", " +
                 std::to_string(hi) + "]");
  return v.is_number_unsigned() ? int64_t(v.get<uint64_t>()) : v.get<int64_t>();
}

bool present(const json& body, const char* key) {
  return body.contains(key) && !body[key].is_null();
}

json parse_body(const std::string& text) {
  json body;
  try {
    body = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number overflow
    bad("", std::string("malformed JSON body: ") + e.what());
  }
  if (!body.is_object())
    bad("", std::string("the request body must be a JSON object, got ") + type_name(body));
  return body;
}

void parse_common(const json& body, ApiRequest& r, int64_t max_context) {
  if (present(body, "model") && !body["model"].is_string())
    bad("model", std::string("model: expected a string, got ") + type_name(body["model"]));
  auto& s = r.options.sampling;
  // OpenAI's own defaults: temperature 1, top_p 1; no top-k.
  s = SamplingParams{};
  if (present(body, "temperature")) s.temperature = float(number_field(body, "temperature", 0, 2));
  if (present(body, "top_p")) {
    s.top_p = float(number_field(body, "top_p", 0, 1));
    if (s.top_p == 0.0f) s.temperature = 0;  // top_p 0 means "only the best token"
    if (s.top_p == 0.0f) s.top_p = 1.0f;
  }
  if (present(body, "top_k"))
    s.top_k = int(integer_field(body, "top_k", 0, std::numeric_limits<int>::max()));
  if (present(body, "min_p")) s.min_p = float(number_field(body, "min_p", 0, 1));
  if (present(body, "presence_penalty"))
    s.presence_penalty = float(number_field(body, "presence_penalty", -2, 2));
  if (present(body, "frequency_penalty"))
    s.frequency_penalty = float(number_field(body, "frequency_penalty", -2, 2));
  if (present(body, "repetition_penalty"))
    s.repetition_penalty = float(number_field(body, "repetition_penalty", 1e-3, 100));
  if (present(body, "seed"))
    s.seed = uint64_t(integer_field(body, "seed", std::numeric_limits<int64_t>::min(),
                                    std::numeric_limits<int64_t>::max()));
  const char* max_key =
      present(body, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  if (present(body, max_key)) {
    r.options.max_new_tokens = integer_field(body, max_key, 1, max_context);
    r.max_tokens_given = true;
  } else {
    r.options.max_new_tokens = max_context;  // as many as fit; generation stops at the context end
  }
  if (present(body, "n") && integer_field(body, "n", 1, 1) != 1) bad("n", "n: only 1 is supported");
  if (present(body, "stream")) {
    if (!body["stream"].is_boolean())
      bad("stream", std::string("stream: expected a boolean, got ") + type_name(body["stream"]));
    r.stream = body["stream"].get<bool>();
  }
  if (present(body, "stream_options")) {
    const json& so = body["stream_options"];
    if (!so.is_object()) bad("stream_options", "stream_options: expected an object");
    if (so.contains("include_usage")) {
      if (!so["include_usage"].is_boolean())
        bad("stream_options.include_usage", "stream_options.include_usage: expected a boolean");
      r.include_usage = so["include_usage"].get<bool>();
    }
  }
  if (present(body, "stop")) {
    const json& st = body["stop"];
    if (st.is_string()) {
      r.options.stop_strings = {st.get<std::string>()};
    } else if (st.is_array()) {
      if (st.size() > 4) bad("stop", "stop: at most 4 stop sequences");
      for (const auto& x : st) {
        if (!x.is_string()) bad("stop", std::string("stop: expected strings, got ") + type_name(x));
        r.options.stop_strings.push_back(x.get<std::string>());
      }
    } else {
      bad("stop",
          std::string("stop: expected a string or an array of strings, got ") + type_name(st));
    }
  }
  for (const char* unsupported : {"tools", "functions", "logit_bias"})
    if (present(body, unsupported) &&
        !(body[unsupported].is_array() && body[unsupported].empty()) &&
        !(body[unsupported].is_object() && body[unsupported].empty()))
      bad(unsupported, std::string(unsupported) + ": not supported by moai serve");
  if (present(body, "logprobs") &&
      !(body["logprobs"].is_boolean() && !body["logprobs"].get<bool>()))
    bad("logprobs", "logprobs: not supported by moai serve");
}

}  // namespace

json error_body(const ApiError& e) {
  return {{"error",
           {{"message", e.message},
            {"type", e.type},
            {"param", e.param.empty() ? json(nullptr) : json(e.param)},
            {"code", e.code.empty() ? json(nullptr) : json(e.code)}}}};
}

ApiRequest parse_chat_request(const std::string& text, int64_t max_context) {
  const json body = parse_body(text);
  ApiRequest r;
  r.chat = true;
  if (!body.contains("messages")) bad("messages", "messages: required");
  const json& msgs = body["messages"];
  if (!msgs.is_array())
    bad("messages", std::string("messages: expected an array, got ") + type_name(msgs));
  if (msgs.empty()) bad("messages", "messages: at least one message is required");
  for (size_t i = 0; i < msgs.size(); ++i) {
    const std::string where = "messages[" + std::to_string(i) + "]";
    const json& m = msgs[i];
    if (!m.is_object()) bad(where, where + ": expected an object, got " + type_name(m));
    if (!m.contains("role") || !m["role"].is_string())
      bad(where + ".role", where + ".role: expected a string");
    std::string role = m["role"].get<std::string>();
    if (role == "developer") role = "system";
    if (role != "system" && role != "user" && role != "assistant")
      bad(where + ".role", where + ".role: \"" + role + "\" is not one of system, user, assistant");
    std::string content;
    if (!m.contains("content") || m["content"].is_null()) {
      content = "";
    } else if (m["content"].is_string()) {
      content = m["content"].get<std::string>();
    } else if (m["content"].is_array()) {  // [{"type": "text", "text": "..."}]
      for (const auto& part : m["content"]) {
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
            !part["text"].is_string())
          bad(where + ".content",
              where +
                  ".content: only text parts ({\"type\": \"text\", \"text\": ...}) are supported");
        content += part["text"].get<std::string>();
      }
    } else {
      bad(where + ".content", where +
                                  ".content: expected a string or an array of text parts, got " +
                                  type_name(m["content"]));
    }
    tok::ChatMessage msg{role, content, ""};
    if (m.contains("reasoning_content") && m["reasoning_content"].is_string())
      msg.reasoning_content = m["reasoning_content"].get<std::string>();
    r.messages.push_back(std::move(msg));
  }
  parse_common(body, r, max_context);
  return r;
}

ApiRequest parse_completion_request(const std::string& text, int64_t max_context) {
  const json body = parse_body(text);
  ApiRequest r;
  r.chat = false;
  if (!body.contains("prompt")) bad("prompt", "prompt: required");
  const json& p = body["prompt"];
  if (p.is_string()) {
    r.prompt = p.get<std::string>();
  } else if (p.is_array() && p.size() == 1 && p[0].is_string()) {
    r.prompt = p[0].get<std::string>();
  } else {
    bad("prompt", std::string("prompt: expected a string (or an array with one string), got ") +
                      type_name(p));
  }
  if (r.prompt.empty()) bad("prompt", "prompt: must not be empty");
  if (present(body, "echo")) {
    if (!body["echo"].is_boolean()) bad("echo", "echo: expected a boolean");
    r.echo = body["echo"].get<bool>();
  }
  parse_common(body, r, max_context);
  if (!r.max_tokens_given)
    r.options.max_new_tokens = std::min<int64_t>(16, max_context);  // OpenAI's default
  return r;
}

const char* openai_finish_reason(FinishReason reason) {
  return reason == FinishReason::kLength ? "length" : "stop";
}

json usage_json(const GenerateResult& r) {
  return {{"prompt_tokens", r.prompt_tokens},
          {"completion_tokens", r.tokens.size()},
          {"total_tokens", r.prompt_tokens + int64_t(r.tokens.size())}};
}

json chat_response(const ResponseIds& ids, const GenerateResult& r) {
  return {{"id", ids.id},
          {"object", "chat.completion"},
          {"created", ids.created},
          {"model", ids.model},
          {"choices", json::array({{{"index", 0},
                                    {"message", {{"role", "assistant"}, {"content", r.text}}},
                                    {"logprobs", nullptr},
                                    {"finish_reason", openai_finish_reason(r.finish_reason)}}})},
          {"usage", usage_json(r)}};
}

json completion_response(const ResponseIds& ids, const GenerateResult& r,
                         const std::string& prefix) {
  return {{"id", ids.id},
          {"object", "text_completion"},
          {"created", ids.created},
          {"model", ids.model},
          {"choices", json::array({{{"index", 0},
                                    {"text", prefix + r.text},
                                    {"logprobs", nullptr},
                                    {"finish_reason", openai_finish_reason(r.finish_reason)}}})},
          {"usage", usage_json(r)}};
}

namespace {
std::string sse(const json& j) {
  return "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}
}  // namespace

std::string chat_chunk(const ResponseIds& ids, const std::string* role,
                       const std::string& delta_text, const char* finish_reason) {
  json delta = json::object();
  if (role) delta["role"] = *role;
  if (role || !delta_text.empty()) delta["content"] = delta_text;
  return sse(
      {{"id", ids.id},
       {"object", "chat.completion.chunk"},
       {"created", ids.created},
       {"model", ids.model},
       {"choices",
        json::array({{{"index", 0},
                      {"delta", delta},
                      {"logprobs", nullptr},
                      {"finish_reason", finish_reason ? json(finish_reason) : json(nullptr)}}})}});
}

std::string completion_chunk(const ResponseIds& ids, const std::string& text,
                             const char* finish_reason) {
  return sse(
      {{"id", ids.id},
       {"object", "text_completion"},
       {"created", ids.created},
       {"model", ids.model},
       {"choices",
        json::array({{{"index", 0},
                      {"text", text},
                      {"logprobs", nullptr},
                      {"finish_reason", finish_reason ? json(finish_reason) : json(nullptr)}}})}});
}

std::string usage_chunk(const ResponseIds& ids, bool chat, const GenerateResult& r) {
  return sse({{"id", ids.id},
              {"object", chat ? "chat.completion.chunk" : "text_completion"},
              {"created", ids.created},
              {"model", ids.model},
              {"choices", json::array()},
              {"usage", usage_json(r)}});
}

}  // namespace moai::infer
