// team_after_fork: this thread's OpenMP workers, lost in a fork or not (fork_guard.h).
#include "fork_guard.h"

#if defined(_OPENMP) && (defined(__unix__) || defined(__APPLE__))
#include <pthread.h>
#define FUSEDRNN_FORK_GUARD 1
#endif

namespace fusedrnn {

namespace {

thread_local bool has_workers = false;   // this thread started a team of two or more
thread_local bool lost_workers = false;  // ...before the fork that made this process

#if defined(FUSEDRNN_FORK_GUARD)
// Runs in the child, on the only thread it has: the one that called fork().
void after_fork_in_child() { lost_workers = lost_workers || has_workers; }
[[maybe_unused]] const int registered = pthread_atfork(nullptr, nullptr, after_fork_in_child);
#endif

}  // namespace

int team_after_fork(int n) { return n > 1 && lost_workers ? 1 : n; }

void note_team(int n) {
  if (n > 1) has_workers = true;
}

}  // namespace fusedrnn
