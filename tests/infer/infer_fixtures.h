#pragma once
// Test fixtures for the inference tests: a tiny random Qwen3 model saved as an HF directory (with a
// real tokenizer), and a child process with pipes for driving the moai binary (chat, serve).
#include <sys/types.h>

#include <string>
#include <vector>

#include "moai/model/qwen3_config.h"

namespace moai::test {

struct TinyModelSpec {
  std::string
      tokenizer_json;  // path of a tokenizer.json; its vocab size (rounded up) sets the model's
  int64_t hidden = 32;
  int64_t layers = 2;
  int64_t heads = 4;
  int64_t kv_heads = 2;
  int64_t head_dim = 16;
  int64_t ffn = 64;
  int64_t max_positions = 256;
  bool tied = true;
  float init_std = 0.3f;
  uint32_t seed = 1;
  std::string dtype = "F32";
};

// Writes config.json, model.safetensors and the tokenizer files into dir; returns the config.
model::Qwen3Config write_tiny_model(const std::string& dir, const TinyModelSpec& spec);

// A child process with stdin/stdout/stderr pipes.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv);
  ~Child();
  void write_stdin(const std::string& text);
  void close_stdin();
  // Reads stdout until `needle` appears or timeout; returns everything read so far.
  std::string read_stdout_until(const std::string& needle, int timeout_ms);
  void signal(int sig);
  // Waits for exit (kills after timeout_ms); returns the exit code (128+signal when killed).
  int wait(int timeout_ms);
  std::string drain_stdout();
  std::string drain_stderr();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1, err_ = -1;
  std::string out_buf_, err_buf_;
  bool exited_ = false;
  int status_ = 0;
};

// Runs a command line through the shell, capturing stdout (stderr goes to a file read back into
// err).
int run_command(const std::string& command, std::string* out, std::string* err = nullptr);

}  // namespace moai::test
