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
    stride_ = ((parts + 2 + 15) / 16) * 16;  // one 64-byte-aligned run of counters per phase
    counters_.reset(new std::atomic<int>[static_cast<size_t>(phases) * stride_]);
    for (int p = 0; p < phases; ++p) {
      std::atomic<int>* c = counters_.get() + static_cast<size_t>(p) * stride_;
      c[0].store(0, std::memory_order_relaxed);  // blocks done
      for (int q = 0; q < parts; ++q) c[1 + q].store(split(blocks, q, parts).begin, std::memory_order_relaxed);
      c[1 + parts].store(0, std::memory_order_relaxed);  // threads asleep on c[0]
    }
  }

  // Calls fn(block) for blocks of phase p until none is left, then waits until every block
  // of phase p is done (its writes are then visible to this thread).
  template <class F>
  void run(int p, int part, F&& fn) {
    std::atomic<int>* c = counters_.get() + static_cast<size_t>(p) * stride_;
    for (int k = 0; k < parts_; ++k) {
      const int q = (part + k) % parts_;
      const int end = split(blocks_, q, parts_).end;
      for (;;) {
        const int b = c[1 + q].fetch_add(1, std::memory_order_relaxed);
        if (b >= end) break;
        fn(b);
        // seq_cst pairs with the sleeper's: either it sees the count, or we see it asleep.
        if (c[0].fetch_add(1, std::memory_order_seq_cst) + 1 == blocks_ &&
            c[1 + parts_].load(std::memory_order_seq_cst) > 0)
          wake_all(c);
      }
    }
    if (c[0].load(std::memory_order_acquire) == blocks_) return;
    for (int i = 0; i < kSpins; ++i) {
      cpu_relax();
      if (c[0].load(std::memory_order_acquire) == blocks_) return;
    }
    // Spun long enough: the peer holding the last block was likely descheduled. Sleep rather
    // than spin or yield: an idle core lets the kernel move that peer here at once.
    for (;;) {
      const int done = c[0].load(std::memory_order_acquire);
      if (done == blocks_) return;
      c[1 + parts_].fetch_add(1, std::memory_order_seq_cst);
      if (c[0].load(std::memory_order_seq_cst) == done) wait_while_equal(c, done);
      c[1 + parts_].fetch_sub(1, std::memory_order_relaxed);
    }
  }

 private:
  static constexpr int kSpins = 2000;  // ~60 us at 29 ns per pause: a normal phase end comes sooner
  int blocks_ = 0, parts_ = 1, stride_ = 16;
  std::unique_ptr<std::atomic<int>[]> counters_;
};

}  // namespace fusedrnn
