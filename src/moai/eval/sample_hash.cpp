#include "moai/eval/sample_hash.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <openssl/sha.h>

namespace moai::eval {

namespace {

// Python's float.__repr__: the shortest digits that round-trip, fixed notation when the decimal
// exponent is in [-4, 16), else d[.ddd]e±XX.
std::string python_float(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  const std::string sci(buf, res.ptr);
  const size_t e = sci.find('e');
  const bool negative = sci[0] == '-';
  std::string digits;
  for (size_t i = negative ? 1 : 0; i < e; ++i)
    if (sci[i] != '.') digits += sci[i];
  const int exponent = std::atoi(sci.c_str() + e + 1);
  std::string out = negative ? "-" : "";
  if (exponent < -4 || exponent >= 16) {
    out.append(digits, 0, 1);
    if (digits.size() > 1) out.append(1, '.').append(digits, 1);
    char exp[16];
    std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    return out.append(exp);
  }
  if (exponent < 0) return out.append("0.").append(size_t(-exponent - 1), '0').append(digits);
  const size_t point = size_t(exponent) + 1;
  if (digits.size() <= point)
    return out.append(digits).append(point - digits.size(), '0').append(".0");
  return out.append(digits, 0, point).append(1, '.').append(digits, point);
}

void append_string(std::string& out, const std::string& s) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\u%04x", unsigned(static_cast<unsigned char>(c)));
          out += esc;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void append_json(std::string& out, const nlohmann::ordered_json& v, int indent, int level) {
  const auto newline = [&](int depth) {
    out += '\n';
    out.append(size_t(indent) * size_t(depth), ' ');
  };
  if (v.is_object() || v.is_array()) {
    const bool object = v.is_object();
    if (v.empty()) {
      out += object ? "{}" : "[]";
      return;
    }
    out += object ? '{' : '[';
    bool first = true;
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (!first) out += ',';
      first = false;
      newline(level + 1);
      if (object) {
        append_string(out, it.key());
        out += ": ";
      }
      append_json(out, *it, indent, level + 1);
    }
    newline(level);
    out += object ? '}' : ']';
  } else if (v.is_string()) {
    append_string(out, v.get_ref<const std::string&>());
  } else if (v.is_number_float()) {
    out += python_float(v.get<double>());
  } else if (v.is_null()) {
    out += "null";
  } else {
    out += v.dump();  // integers, booleans
  }
}

}  // namespace

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  std::string out;
  char hex[3];
  for (const unsigned char b : digest) {
    std::snprintf(hex, sizeof hex, "%02x", b);
    out += hex;
  }
  return out;
}

std::string python_json_dumps(const nlohmann::ordered_json& value, int indent) {
  std::string out;
  append_json(out, value, indent, 0);
  return out;
}

std::string python_str(const nlohmann::ordered_json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) return python_float(value.get<double>());
  if (value.is_boolean()) return value.get<bool>() ? "True" : "False";
  if (value.is_null()) return "None";
  return value.dump();
}

}  // namespace moai::eval
