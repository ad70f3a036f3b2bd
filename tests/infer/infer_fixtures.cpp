// Shared fixtures of the infer tests (tiny models on disk, a server child process); see
// infer_fixtures.h.
#include "infer_fixtures.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>

#include "moai/core/file_util.h"
#include "moai/model/hf_checkpoint.h"
#include "moai/model/param_layout.h"
#include "moai/tokenizer/tokenizer.h"

namespace moai::test {

model::Qwen3Config write_tiny_model(const std::string& dir, const TinyModelSpec& spec) {
  std::filesystem::create_directories(dir);
  const tok::Tokenizer tokenizer = tok::Tokenizer::load(spec.tokenizer_json);
  model::Qwen3Config c;
  c.vocab_size = int64_t(tokenizer.vocab_size());
  c.hidden_size = spec.hidden;
  c.intermediate_size = spec.ffn;
  c.num_hidden_layers = spec.layers;
  c.num_attention_heads = spec.heads;
  c.num_key_value_heads = spec.kv_heads;
  c.head_dim = spec.head_dim;
  c.max_position_embeddings = spec.max_positions;
  c.rope_theta = 1e6;
  c.rms_norm_eps = 1e-6;
  c.tie_word_embeddings = spec.tied;
  const model::ParamLayout layout(c);
  std::vector<float> params(size_t(layout.total_floats()));
  std::mt19937 gen(spec.seed);
  std::normal_distribution<float> normal(0.0f, spec.init_std);
  for (const auto& info : layout.params()) {
    const bool norm = info.shape.size() == 1;
    for (int64_t i = 0; i < info.numel; ++i)
      params[size_t(info.offset + i)] = norm ? 1.0f + 0.1f * normal(gen) : normal(gen);
  }
  model::SaveOptions options;
  options.dtype = spec.dtype;
  model::save_hf_model(dir, c, layout, params.data(), options);
  tokenizer.save(dir);
  return c;
}

namespace {
void set_nonblocking(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}
void drain(int fd, std::string& buf) {
  char tmp[4096];
  while (fd >= 0) {
    const ssize_t n = read(fd, tmp, sizeof(tmp));
    if (n <= 0) break;
    buf.append(tmp, size_t(n));
  }
}
}  // namespace

Child::Child(const std::vector<std::string>& argv) {
  int in[2], out[2], err[2];
  if (pipe(in) || pipe(out) || pipe(err)) throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) close(fd);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  in_ = in[1];
  out_ = out[0];
  err_ = err[0];
  set_nonblocking(out_);
  set_nonblocking(err_);
  ::signal(SIGPIPE, SIG_IGN);
}

Child::~Child() {
  if (!exited_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  for (int fd : {in_, out_, err_})
    if (fd >= 0) close(fd);
}

void Child::write_stdin(const std::string& text) {
  if (in_ >= 0 && ::write(in_, text.data(), text.size()) < 0) {
    // the child may have exited already; the test sees that through wait()
  }
}

void Child::close_stdin() {
  if (in_ >= 0) close(in_);
  in_ = -1;
}

std::string Child::read_stdout_until(const std::string& needle, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (out_buf_.find(needle) == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    pollfd p{out_, POLLIN, 0};
    poll(&p, 1, 50);
    drain(out_, out_buf_);
    drain(err_, err_buf_);
  }
  return out_buf_;
}

void Child::signal(int sig) {
  kill(pid_, sig);
}

int Child::wait(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!exited_) {
    drain(out_, out_buf_);
    drain(err_, err_buf_);
    const pid_t r = waitpid(pid_, &status_, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status_, 0);
      exited_ = true;
      break;
    }
    usleep(20000);
  }
  drain(out_, out_buf_);
  drain(err_, err_buf_);
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  return 128 + WTERMSIG(status_);
}

std::string Child::drain_stdout() {
  drain(out_, out_buf_);
  return out_buf_;
}

std::string Child::drain_stderr() {
  drain(err_, err_buf_);
  return err_buf_;
}

int run_command(const std::string& command, std::string* out, std::string* err) {
  const std::string err_file =
      std::filesystem::temp_directory_path() / ("moai_cmd_err_" + std::to_string(getpid()));
  FILE* p = popen((command + " 2>" + err_file).c_str(), "r");
  if (!p) return -1;
  std::string buf;
  char tmp[4096];
  size_t n;
  while ((n = fread(tmp, 1, sizeof(tmp), p)) > 0) buf.append(tmp, n);
  const int status = pclose(p);
  if (out) *out = buf;
  if (err) *err = file_exists(err_file) ? read_file(err_file) : "";
  std::filesystem::remove(err_file);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace moai::test
