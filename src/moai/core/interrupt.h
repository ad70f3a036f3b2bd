#pragma once
// Cooperative Ctrl-C handling. install_interrupt_handler() makes SIGINT/SIGTERM set a flag that
// long loops poll with interrupt_requested(); a second SIGINT restores the default action so a
// stuck program can still be killed.
namespace moai {

void install_interrupt_handler();
bool interrupt_requested();
void clear_interrupt();
int interrupt_signal();  // the signal number that set the flag, 0 if none

}  // namespace moai
