// Calls in a child made by fork().
// - GNU OpenMP (libgomp) keeps a pool of worker threads per thread that started a team; fork()
//   copies the pool but not its threads, so a team of two in the child, on the thread that forked,
//   waits forever for a worker that is gone (multiprocessing's default start method on Linux did that
//   to every worker process). That thread's calls run on one thread in the child instead; any thread
//   the child starts gets a pool of its own.
// - A lock held by another thread at the fork stays held in the child for good: a call there waited
//   forever for the buffer pool's or the weight cache's. fork() now waits until neither is held.
#pragma once

namespace fusedrnn {

// The team a call on this thread may start: 1 where its OpenMP workers died in a fork, else n.
int team_after_fork(int n);
// Records that this thread starts a team of n: its workers are lost if the process forks.
void note_team(int n);
// For the tests: holds the locks fork() waits for, for `seconds`.
void hold_fork_locks_for(double seconds);

}  // namespace fusedrnn
