// OpenMP helpers: thread count, fixed split of [0, n) into slices, and the block scheduler
// that replaces per-step barriers.
// Builds without OpenMP (everything then runs on one thread).
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

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
inline void wake_all(std::atomic<int>* word) {
#if defined(__linux__)
  syscall(SYS_futex, reinterpret_cast<int*>(word), FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr, nullptr, 0);
#else
  (void)word;
#endif
}

// Runs the blocks of a sequence of phases (time steps, or parts of a step) over a team.
// Each thread first takes the blocks of its own fixed slice (so at batch 1 its weights stay
// in its cache), then helps with blocks still unclaimed in other slices; a phase ends when
// all its blocks are done, not when all threads have arrived. So a thread descheduled on a
// busy machine costs the others nothing: they do its blocks. A block's result does not
// depend on which thread computes it, so results stay bitwise independent of threads.
class BlockScheduler {
 public:
  // Serial (or in an `omp single`): `phases` phases of `blocks` blocks for `parts` threads.
  void reset(int phases, int blocks, int parts) {
    blocks_ = blocks;
    parts_ = parts;
    lines_.reset(new Line[static_cast<size_t>(phases) * (1 + parts)]);
    for (int p = 0; p < phases; ++p) {
      Line* c = phase(p);
      c[0].n[kDone].store(0, std::memory_order_relaxed);
      c[0].n[kAsleep].store(0, std::memory_order_relaxed);
      for (int q = 0; q < parts; ++q) c[1 + q].n[0].store(split(blocks, q, parts).begin, std::memory_order_relaxed);
    }
  }

  // Calls fn(block) for blocks of phase p until none is left, then waits until every block
  // of phase p is done (its writes are then visible to this thread).
  template <class F>
  void run(int p, int part, F&& fn) {
    Line* c = phase(p);
    std::atomic<int>& done_count = c[0].n[kDone];
    std::atomic<int>& asleep = c[0].n[kAsleep];
    for (int k = 0; k < parts_; ++k) {
      const int q = (part + k) % parts_;
      const int end = split(blocks_, q, parts_).end;
      for (;;) {
        const int b = c[1 + q].n[0].fetch_add(1, std::memory_order_relaxed);
        if (b >= end) break;
        fn(b);
        // seq_cst pairs with the sleeper's: either it sees the count, or we see it asleep.
        if (done_count.fetch_add(1, std::memory_order_seq_cst) + 1 == blocks_ &&
            asleep.load(std::memory_order_seq_cst) > 0)
          wake_all(&done_count);
      }
    }
    if (done_count.load(std::memory_order_acquire) == blocks_) return;
    for (int i = 0; i < kSpins; ++i) {
      cpu_relax();
      if (done_count.load(std::memory_order_acquire) == blocks_) return;
    }
    // Spun long enough: the peer holding the last block was likely descheduled. Sleep rather
    // than spin or yield: an idle core lets the kernel move that peer here at once.
    for (;;) {
      const int done = done_count.load(std::memory_order_acquire);
      if (done == blocks_) return;
      asleep.fetch_add(1, std::memory_order_seq_cst);
      if (done_count.load(std::memory_order_seq_cst) == done) wait_while_equal(&done_count, done);
      asleep.fetch_sub(1, std::memory_order_relaxed);
    }
  }

 private:
  // A phase's counters: one line with the blocks done and the threads asleep on that count,
  // then one line per slice with its next unclaimed block. Apart, a slice owner's claims do
  // not move the line the others wait on (at batch 1, two atomics per block on one line
  // shuttled it between the cores).
  struct alignas(64) Line {
    std::atomic<int> n[16];
  };
  static constexpr int kDone = 0, kAsleep = 1;
  Line* phase(int p) const { return lines_.get() + static_cast<size_t>(p) * (1 + parts_); }

  static constexpr int kSpins = 2000;  // ~60 us at 29 ns per pause: a normal phase end comes sooner
  int blocks_ = 0, parts_ = 1;
  std::unique_ptr<Line[]> lines_;
};

}  // namespace fusedrnn
