// OpenMP helpers: thread count, fixed split of [0, n) into slices, and the block scheduler
// that replaces per-step barriers.
// Builds without OpenMP (everything then runs on one thread).
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

#include "team_placement.h"

namespace fusedrnn {

// Threads a call uses unless told otherwise (set_num_threads, OMP_NUM_THREADS).
int default_threads();
void set_default_threads(int n);

inline int thread_id() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}
inline int team_size() {
#ifdef _OPENMP
  return omp_get_num_threads();
#else
  return 1;
#endif
}

// Part `part` of `parts` of [0, n): a fixed function of (n, part, parts) only.
struct Slice {
  int begin, end;
};
inline Slice split(int n, int part, int parts) {
  return {static_cast<int>(static_cast<long long>(n) * part / parts),
          static_cast<int>(static_cast<long long>(n) * (part + 1) / parts)};
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Sleep while *word == expected (Linux futex; elsewhere a yield). May return spuriously.
inline void wait_while_equal(std::atomic<int>* word, int expected) {
#if defined(__linux__)
  syscall(SYS_futex, reinterpret_cast<int*>(word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
#else
  (void)word, (void)expected;
  std::this_thread::yield();
#endif
}
// Let another thread runnable on this CPU run now (elsewhere: the standard library's yield).
inline void yield_cpu() {
#if defined(__linux__)
  sched_yield();
#else
  std::this_thread::yield();
#endif
}
inline void wake_all(std::atomic<int>* word) {
#if defined(__linux__)
  syscall(SYS_futex, reinterpret_cast<int*>(word), FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr, nullptr, 0);
#else
  (void)word;
#endif
}

// Runs the blocks of a sequence of phases (time steps, or parts of a step) over a team.
// Each thread first takes the blocks of its own fixed slice (so at batch 1 its weights stay
// in its cache), all those still unclaimed at once, then helps with blocks still unclaimed in
// other slices; a phase ends when all its blocks are done, not when all threads have arrived.
// So a thread descheduled on a busy machine before a phase costs the others nothing: they do
// its blocks. A block's result does not depend on which thread computes it, so results stay
// bitwise independent of threads.
// Every member calls start() first and finish() last: they keep the team on different CPUs
// (team_placement.h) and end it with a wait that sleeps rather than OpenMP's spinning barrier.
class BlockScheduler {
 public:
  // Serial, by the calling thread before the team's region: `phases` phases of `blocks` blocks for
  // `parts` threads (a team that turns out smaller is fine: the others take an absent member's blocks).
  // first: where each part's own blocks begin (ascending, first[0] = 0; by default split's slices).
  void reset(int phases, int blocks, int parts, const int* first = nullptr) {
    caller_cpu_ = current_cpu();
    blocks_ = blocks;
    parts_ = parts;
    bounds_.resize(static_cast<size_t>(parts) + 1);
    for (int q = 0; q < parts; ++q) bounds_[q] = first != nullptr ? first[q] : split(blocks, q, parts).begin;
    bounds_[parts] = blocks;
    stride_ = ((parts + 2 + 15) / 16) * 16;  // one 64-byte-aligned run of counters per phase
    counters_.reset(new std::atomic<int>[static_cast<size_t>(phases) * stride_]);
    arrived_.store(0, std::memory_order_relaxed);
    started_.store(0, std::memory_order_relaxed);
    team_ = 1;
    for (int p = 0; p < phases; ++p) {
      std::atomic<int>* c = counters_.get() + static_cast<size_t>(p) * stride_;
      c[0].store(0, std::memory_order_relaxed);  // blocks done
      for (int q = 0; q < parts; ++q) c[1 + q].store(bounds_[q], std::memory_order_relaxed);
      c[1 + parts].store(0, std::memory_order_relaxed);  // threads asleep on c[0]
    }
  }

  // Every member of the team calls this first; it returns the member's part (its thread number).
  // A worker woken onto the CPU the calling thread ran on at reset moves off it.
  int start() {
    const int part = thread_id(), team = team_size();
    if (part == 0) {
      team_ = team;
      started_at_ = std::chrono::steady_clock::now();
    } else {
      leave_caller_cpu(caller_cpu_, team);
      started_.fetch_add(1, std::memory_order_release);
    }
    return part;
  }

  // Calls fn(block) for blocks of phase p until none is left, then waits until every block
  // of phase p is done (its writes are then visible to this thread).
  template <class F>
  void run(int p, int part, F&& fn) {
    run(p, part, fn, [] { return false; });
  }
  // As run, but while other members still hold blocks of phase p, calls idle() until it returns
  // false (it has no more useful work to do meanwhile) or the phase is done.
  template <class F, class Idle>
  void run(int p, int part, F&& fn, Idle&& idle) {
    std::atomic<int>* c = counters_.get() + static_cast<size_t>(p) * stride_;
    // The calling thread takes the blocks of workers not yet running, so it never waits for
    // them, and one woken onto its CPU would run only at the next tick. A worker woken onto
    // another CPU starts within 10-100 us (seen here); one still not started after kLate is
    // likely waiting for this CPU, and gets it once per phase until it starts (not sooner: a
    // yield hands the CPU to whatever else is runnable here).
    if (part == 0 && started_.load(std::memory_order_acquire) + 1 < team_ &&
        std::chrono::steady_clock::now() - started_at_ > kLate)
      yield_cpu();
    // The member's own blocks not yet taken, in one claim, and their count added once: a claim
    // and a count per block were each a transfer of the counters' line between the cores, twice
    // a block at batch 1, where a block is a microsecond's work. Others' blocks (a member late
    // or absent) one at a time, looked at before they are claimed. T=100 I=H=256, 2 threads, Zen 5
    // (bench/ab_builds.py), against a claim and a count per block: where a line takes 190-210 ns
    // between the CPUs (bench/core_latency.c), inference frozen B=1 LSTM 1.043x and 1.046x, GRU
    // 1.044x, B=4 LSTM 1.086x, B=8 1.049x, backward B=1 LSTM 1.068x, GRU 1.069x; where it takes
    // 40-60 ns, B=1 LSTM 1.015x and 1.016x, GRU 0.991-1.024x. W3's shape (LSTM T=50 B=32 I=H=256):
    // training forward 0.98-1.02x, backward 1.011x, step 0.993-1.019x (six runs); LSTM T=1000 B=16 I=H=128 step 1.012x.
    const int own_end = bounds_[part + 1];
    const int own = own_end - bounds_[part];
    const int first = own > 0 ? c[1 + part].fetch_add(own, std::memory_order_relaxed) : own_end;
    if (first < own_end) {
      for (int b = first; b < own_end; ++b) fn(b);
      count_done(c, own_end - first);
    }
    for (int k = 1; k < parts_; ++k) {
      const int q = (part + k) % parts_;
      const int end = bounds_[q + 1];
      while (c[1 + q].load(std::memory_order_relaxed) < end) {
        const int b = c[1 + q].fetch_add(1, std::memory_order_relaxed);
        if (b >= end) break;
        fn(b);
        count_done(c, 1);
      }
    }
    if (c[0].load(std::memory_order_acquire) == blocks_) return;
    while (idle())
      if (c[0].load(std::memory_order_acquire) == blocks_) return;
    for (int i = 0; i < kSpins; ++i) {
      cpu_relax();
      if (c[0].load(std::memory_order_acquire) == blocks_) return;
    }
    // Spun long enough: the peer holding the last block was likely descheduled. Sleep rather
    // than spin or yield: an idle core lets the kernel move that peer here at once.
    wait_for(c, c + 1 + parts_, blocks_, parts_);
  }

  // Every member of the team calls this last: it returns once all have. The region's own
  // closing barrier spins, and a member still waiting for a CPU, on the CPU of one spinning
  // there, would start only at the next scheduler tick; this wait sleeps instead.
  void finish() {
    const int team = team_size();
    if (arrived_.fetch_add(1, std::memory_order_seq_cst) + 1 == team) {
      if (arrived_sleepers_.load(std::memory_order_seq_cst) > 0) wake(&arrived_);
      return;
    }
    for (int i = 0; i < kSpins; ++i) {
      cpu_relax();
      if (arrived_.load(std::memory_order_acquire) == team) return;
    }
    wait_for(&arrived_, &arrived_sleepers_, team, team);
  }

 private:
  // Adds n blocks done to phase c's count; whoever completes it wakes the phase's sleepers
  // (seq_cst pairs with the sleeper's: either it sees the count, or we see it asleep).
  void count_done(std::atomic<int>* c, int n) {
    if (c[0].fetch_add(n, std::memory_order_seq_cst) + n == blocks_ &&
        c[1 + parts_].load(std::memory_order_seq_cst) > 0)
      wake(c);
  }
  // Sleeps until *count reaches `target`, counted in *sleepers meanwhile (whoever brings the count
  // to the target wakes the sleepers: seq_cst on both sides, so either it sees them or they see it).
  // Linux may wake a sleeper onto the waker's CPU, where the waker goes on running (or spinning,
  // between regions): a sleeper woken there moves off it, as a late worker does (start).
  void wait_for(std::atomic<int>* count, std::atomic<int>* sleepers, int target, int team) {
    for (;;) {
      const int now = count->load(std::memory_order_acquire);
      if (now == target) return;
      sleepers->fetch_add(1, std::memory_order_seq_cst);
      if (count->load(std::memory_order_seq_cst) == now) {
        wait_while_equal(count, now);
        leave_caller_cpu(waker_cpu_.load(std::memory_order_relaxed), team);
      }
      sleepers->fetch_sub(1, std::memory_order_relaxed);
    }
  }
  // Wakes the sleepers, then lets one woken onto this CPU run (and move off) before this thread
  // goes on: else it waits for the next tick, this thread running or spinning on between regions.
  void wake(std::atomic<int>* word) {
    waker_cpu_.store(current_cpu(), std::memory_order_relaxed);
    wake_all(word);
    yield_cpu();
  }

  static constexpr std::chrono::microseconds kLate{200};
  static constexpr int kSpins = 2000;  // ~60 us at 29 ns per pause: a normal phase end comes sooner
  int blocks_ = 0, parts_ = 1, stride_ = 16;
  std::unique_ptr<std::atomic<int>[]> counters_;
  std::vector<int> bounds_;  // part q's own blocks: [bounds_[q], bounds_[q + 1])
  alignas(64) std::atomic<int> arrived_{0};  // members done with the whole sequence (finish)
  std::atomic<int> arrived_sleepers_{0};
  std::atomic<int> started_{0};  // workers that have called start
  std::atomic<int> waker_cpu_{-1};  // where the last thread to wake sleepers ran
  int caller_cpu_ = -1;          // where the calling thread ran at reset
  int team_ = 1;                 // the team's size, as its calling thread found it (start)
  std::chrono::steady_clock::time_point started_at_;  // when the calling thread started
};

}  // namespace fusedrnn
