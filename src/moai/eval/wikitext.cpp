#include "moai/eval/wikitext.h"

#include "moai/eval/text_util.h"

namespace moai::eval {
namespace {

// re.sub(r"/' [0-9]/", r"/'[0-9]/", s): the replacement is the literal text "/'[0-9]/" (the
// harness's pattern, kept as is).
std::string slash_quote_digit(const std::string& s) {
  std::string out;
  for (size_t pos = 0; pos < s.size();) {
    if (s.compare(pos, 3, "/' ") == 0 && pos + 4 < s.size() && s[pos + 3] >= '0' &&
        s[pos + 3] <= '9' && s[pos + 4] == '/') {
      out += "/'[0-9]/";
      pos += 5;
      continue;
    }
    out.push_back(s[pos++]);
  }
  return out;
}

// re.sub(open + r"\s*([^" + close + r"]*?)\s*" + close, open + r"\1" + close, s): from each
// opening character to the next closing one, the content loses its surrounding whitespace. No
// closing character after an opening one: that opening character stays and the scan goes on.
std::string tighten(const std::string& s, char open, char close) {
  std::string out;
  for (size_t pos = 0; pos < s.size();) {
    if (s[pos] == open) {
      const size_t end = s.find(close, pos + 1);
      if (end != std::string::npos) {
        out.push_back(open);
        out.append(py_strip(std::string_view(s).substr(pos + 1, end - pos - 1)));
        out.push_back(close);
        pos = end + 1;
        continue;
      }
    }
    out.push_back(s[pos++]);
  }
  return out;
}

}  // namespace

std::string wikitext_detokenize(std::string_view page) {
  std::string s = py_replace(page, "s '", "s'");
  s = slash_quote_digit(s);
  s = py_replace(s, " @-@ ", "-");
  s = py_replace(s, " @,@ ", ",");
  s = py_replace(s, " @.@ ", ".");
  s = py_replace(s, " : ", ": ");
  s = py_replace(s, " ; ", "; ");
  s = py_replace(s, " . ", ". ");
  s = py_replace(s, " ! ", "! ");
  s = py_replace(s, " ? ", "? ");
  s = py_replace(s, " , ", ", ");
  s = tighten(s, '(', ')');
  s = tighten(s, '[', ']');
  s = tighten(s, '{', '}');
  s = tighten(s, '"', '"');
  s = tighten(s, '\'', '\'');
  s = py_replace(s, "= = = =", "====");
  s = py_replace(s, "= = =", "===");
  s = py_replace(s, "= =", "==");
  s = py_replace(s, " \xC2\xB0 ", "\xC2\xB0");  // chr(176), the degree sign
  s = py_replace(s, " \n", "\n");
  s = py_replace(s, "\n ", "\n");
  s = py_replace(s, " N ", " 1 ");
  s = py_replace(s, " 's", "'s");
  return s;
}

}  // namespace moai::eval
