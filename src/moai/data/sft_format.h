#pragma once
// SFT record formats and their conversion to chat messages (rendered later with ChatML,
// chat_template.h).
//
//   chat              {"messages": [{"role": system|user|assistant, "content": ...,
//   "reasoning_content"?}]} sharegpt          {"conversations": [{"from":
//   human|user|gpt|assistant|system, "value": ...}]} alpaca            {"instruction", "input"?,
//   "output"}: user = instruction, plus "\n\n" + input if any question_answer   {"question",
//   "answer"} prompt_response   {"prompt", "response"} prompt_completion {"prompt", "completion"}
//   input_output      {"input", "output"}
//   r1                {"input" | "prompt" | "question", "content", "reasoning_content"}
//   (DeepSeek-R1 dumps)
//
// Flat formats also take an optional top-level "system" string and "reasoning_content" (the
// assistant's reasoning, rendered "<think>\n...\n</think>\n\n" before the answer). Detection runs
// per file on its first record, checking `instruction` before `input`/`output` so Alpaca rows keep
// their instruction (the original's bug, inventory §3.11).
#include <string>
#include <string_view>
#include <vector>

#include "moai/tokenizer/chat_template.h"

namespace moai::data {

enum class SftFormat {
  kAuto,
  kChat,
  kShareGpt,
  kAlpaca,
  kQuestionAnswer,
  kPromptResponse,
  kPromptCompletion,
  kInputOutput,
  kR1
};

std::string sft_format_name(SftFormat format);
// "auto", "chat", "messages", "sharegpt", "alpaca", "question_answer", "qa", ...; InputError
// otherwise.
SftFormat parse_sft_format(const std::string& name);

// Detects the format of one JSON record; InputError-derived BadRecord naming the fields seen if
// none fits.
SftFormat detect_sft_format(std::string_view json);

// Converts one JSON record. Throws BadRecord (record_reader.h) for a missing field, a wrong type,
// an unknown role, or a conversation with no non-empty assistant turn.
std::vector<tok::ChatMessage> sft_record_to_messages(std::string_view json, SftFormat format);

}  // namespace moai::data
