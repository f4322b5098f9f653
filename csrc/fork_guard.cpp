// team_after_fork: this thread's OpenMP workers, lost in a fork or not; the locks a fork waits
// for (fork_guard.h).
#include "fork_guard.h"

#include <chrono>
#include <thread>

#include "pool.h"
#include "weight_cache.h"

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define FUSEDRNN_FORK_HANDLERS 1
#endif

namespace fusedrnn {

namespace {

thread_local bool has_workers = false;   // this thread started a team of two or more
thread_local bool lost_workers = false;  // ...before the fork that made this process

void lock_all() {  // the cache's first: dropping an entry under it frees into the pool
  cache_lock();
  pool_lock();
}
void unlock_all() {
  pool_unlock();
  cache_unlock();
}

#if defined(FUSEDRNN_FORK_HANDLERS)
// Runs in the child, on the only thread it has: the one that called fork().
void after_fork_in_child() {
  unlock_all();
  lost_workers = lost_workers || has_workers;
}
[[maybe_unused]] const int registered = pthread_atfork(lock_all, unlock_all, after_fork_in_child);
#endif

}  // namespace

int team_after_fork(int n) { return n > 1 && lost_workers ? 1 : n; }

void note_team(int n) {
  if (n > 1) has_workers = true;
}

void hold_fork_locks_for(double seconds) {
  lock_all();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  unlock_all();
}

}  // namespace fusedrnn
