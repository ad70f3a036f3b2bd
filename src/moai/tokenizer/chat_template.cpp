#include "moai/tokenizer/chat_template.h"

namespace moai::tok {

std::vector<ChatSegment> render_chatml_segments(const std::vector<ChatMessage>& messages,
                                                bool add_generation_prompt) {
  std::vector<ChatSegment> segments;
  for (const ChatMessage& m : messages) {
    const std::string header = "<|im_start|>" + m.role + "\n";
    if (m.role == "assistant") {
      segments.push_back({header, false});
      std::string body;
      if (!m.reasoning_content.empty())
        body += "<think>\n" + m.reasoning_content + "\n</think>\n\n";
      body += m.content + "<|im_end|>";
      segments.push_back({std::move(body), true});
      segments.push_back({"\n", false});
    } else {
      segments.push_back({header + m.content + "<|im_end|>\n", false});
    }
  }
  if (add_generation_prompt) segments.push_back({"<|im_start|>assistant\n", false});
  return segments;
}

std::string render_chatml(const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  std::string text;
  for (const ChatSegment& s : render_chatml_segments(messages, add_generation_prompt))
    text += s.text;
  return text;
}

const std::string& chatml_jinja_template() {
  static const std::string kTemplate =
      "{%- for message in messages -%}"
      "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
      "{%- if message['role'] == 'assistant' and message['reasoning_content'] is defined and "
      "message['reasoning_content'] -%}"
      "{{- '<think>\\n' + message['reasoning_content'] + '\\n</think>\\n\\n' -}}"
      "{%- endif -%}"
      "{{- message['content'] + '<|im_end|>\\n' -}}"
      "{%- endfor -%}"
      "{%- if add_generation_prompt -%}"
      "{{- '<|im_start|>assistant\\n' -}}"
      "{%- endif -%}";
  return kTemplate;
}

}  // namespace moai::tok
