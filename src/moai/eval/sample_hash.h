#pragma once
// The hashes lm-evaluation-harness v0.4.9.2 writes into samples_<task>.jsonl
// (lm_eval/evaluator.py evaluate, lm_eval/utils.py hash_string = sha256(utf-8).hexdigest()):
//   doc_hash    = hash_string(json.dumps(doc, indent=2, default=..., ensure_ascii=False))
//   prompt_hash = hash_string(requests[0].arguments[0])   (the first request's context)
//   target_hash = hash_string(str(target))
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace moai::eval {

// SHA-256 of the bytes (OpenSSL libcrypto), as 64 lowercase hex digits.
std::string sha256_hex(std::string_view bytes);

// Python's json.dumps(value, indent=indent, ensure_ascii=False): keys in the object's order,
// separators "," and ": ", floats as Python's repr (shortest round trip, exponent form below 1e-4
// and from 1e16 on, "NaN"/"Infinity"), only '"', '\\' and control characters escaped.
std::string python_json_dumps(const nlohmann::ordered_json& value, int indent);

// str(target) of a JSON target: a string as is; a number, bool or null as Python's str prints it
// (lm-eval's targets are strings or choice indices).
std::string python_str(const nlohmann::ordered_json& value);

}  // namespace moai::eval
