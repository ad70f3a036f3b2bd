// moai_hub_double: the tests' Hub double (hub_double.h) as a process, for tests/cli/hub_dataset.sh.
// Prints the endpoint on its first line, then serves the standard test repos until SIGTERM/SIGINT.
#include <csignal>
#include <cstdio>

#include "hub_double.h"

int main() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // the server threads inherit the mask
  moai::testing::HubDouble hub;
  hub.add_standard_repos();
  std::printf("%s\n", hub.endpoint().c_str());
  std::fflush(stdout);
  int received = 0;
  sigwait(&signals, &received);
  return 0;
}
