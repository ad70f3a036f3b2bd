#pragma once
// The OpenAI-compatible request/response shapes moai serves: parsing and validating request bodies
// (every error names the offending field) and building responses, SSE chunks and error bodies. No
// networking here, so all of it is unit-tested without a socket.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "moai/infer/generator.h"
#include "moai/tokenizer/chat_template.h"

namespace moai::infer {

// An error the client gets as {"error": {"message", "type", "param", "code"}} with an HTTP status.
struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // empty = null
  std::string code;   // empty = null
};
nlohmann::json error_body(const ApiError& error);

struct ApiRequest {
  bool chat = true;                        // /v1/chat/completions vs /v1/completions
  std::vector<tok::ChatMessage> messages;  // chat
  std::string prompt;                      // completions
  GenerateOptions options;
  bool max_tokens_given = false;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool echo = false;           // completions: prepend the prompt
};

// Parses a request body. Throws ApiError (status 400) for malformed JSON, wrong types, out-of-range
// values and unsupported options (n > 1, logprobs, tools). max_context bounds max_tokens.
ApiRequest parse_chat_request(const std::string& body, int64_t max_context);
ApiRequest parse_completion_request(const std::string& body, int64_t max_context);

struct ResponseIds {
  std::string id;       // "chatcmpl-..." / "cmpl-..."
  int64_t created = 0;  // unix seconds
  std::string model;
};

nlohmann::json chat_response(const ResponseIds& ids, const GenerateResult& r);
nlohmann::json completion_response(const ResponseIds& ids, const GenerateResult& r,
                                   const std::string& prefix);
// One SSE event: "data: {...}\n\n". delta_text empty + finish null = the role-announcing first
// chunk.
std::string chat_chunk(const ResponseIds& ids, const std::string* role,
                       const std::string& delta_text, const char* finish_reason);
std::string completion_chunk(const ResponseIds& ids, const std::string& text,
                             const char* finish_reason);
std::string usage_chunk(const ResponseIds& ids, bool chat, const GenerateResult& r);
inline const char* sse_done() {
  return "data: [DONE]\n\n";
}

// OpenAI spells the reasons "stop" / "length"; a cancelled job never reaches a client.
const char* openai_finish_reason(FinishReason reason);
nlohmann::json usage_json(const GenerateResult& r);

}  // namespace moai::infer
