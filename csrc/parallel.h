// OpenMP helpers: thread count, fixed split of [0, n) into slices, and the block scheduler
// that replaces per-step barriers.
// Builds without OpenMP (everything then runs on one thread).
#pragma once
#include <atomic>
#include <memory>
#include <thread>

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
    stride_ = ((parts + 1 + 15) / 16) * 16;  // one 64-byte-aligned run of counters per phase
    counters_.reset(new std::atomic<int>[static_cast<size_t>(phases) * stride_]);
    for (int p = 0; p < phases; ++p) {
      std::atomic<int>* c = counters_.get() + static_cast<size_t>(p) * stride_;
      c[0].store(0, std::memory_order_relaxed);  // blocks done
      for (int q = 0; q < parts; ++q) c[1 + q].store(split(blocks, q, parts).begin, std::memory_order_relaxed);
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
        c[0].fetch_add(1, std::memory_order_acq_rel);
      }
    }
    if (c[0].load(std::memory_order_acquire) == blocks_) return;
    for (int i = 0; i < kSpins; ++i) {
      cpu_relax();
      if (c[0].load(std::memory_order_acquire) == blocks_) return;
    }
    // Spun long enough: the peer holding the last block was likely descheduled. Give it the core.
    while (c[0].load(std::memory_order_acquire) != blocks_) std::this_thread::yield();
  }

 private:
  static constexpr int kSpins = 20000;
  int blocks_ = 0, parts_ = 1, stride_ = 16;
  std::unique_ptr<std::atomic<int>[]> counters_;
};

}  // namespace fusedrnn
