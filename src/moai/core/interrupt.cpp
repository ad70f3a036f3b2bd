#include "moai/core/interrupt.h"

#include <csignal>

namespace moai {
namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_signal(int signal) {
  if (g_signal != 0 && signal == SIGINT) std::signal(SIGINT, SIG_DFL);
  g_signal = signal;
}

}  // namespace

void install_interrupt_handler() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: blocking reads return EINTR so loops notice
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool interrupt_requested() {
  return g_signal != 0;
}
void clear_interrupt() {
  g_signal = 0;
}
int interrupt_signal() {
  return g_signal;
}

}  // namespace moai
