// Wraps OpenBLAS (scipy-openblas32, symbols prefixed scipy_): the large products, split in
// fixed blocks that our OpenMP team claims (BlockScheduler), each block a single-threaded BLAS call.
#include "gemm.h"

#include <cblas.h>

#include <cstdio>
#include <cstdlib>

#include "parallel.h"

namespace fusedrnn {

namespace {

// OpenBLAS's own threading is never used (one BLAS thread, see blas_init): its level-3 jobs
// spin-wait on each other, so one job descheduled on a busy machine stalls the rest. This
// guard stays in case a later OpenBLAS ignores the count: run its jobs on an OpenMP team.
void omp_blas_callback(int /*sync*/, openblas_dojob_callback dojob, int numjobs, size_t elsize,
                       void* jobdata, int dojob_data) {
#ifdef _OPENMP
  if (omp_in_parallel() && numjobs > 1) {
    // A nested team would get one thread and the jobs would wait on each other forever.
    std::fprintf(stderr, "fusedrnn: multithreaded BLAS called inside a parallel region\n");
    std::abort();
  }
#pragma omp parallel for num_threads(numjobs) schedule(static, 1)
#endif
  for (int i = 0; i < numjobs; i++) dojob(thread_id(), static_cast<char*>(jobdata) + static_cast<size_t>(i) * elsize, dojob_data);
}

inline CBLAS_TRANSPOSE tr(bool t) { return t ? CblasTrans : CblasNoTrans; }

// K = 0 (e.g. no valid (t, b) pair): C = beta * C without asking BLAS, which need not handle it.
template <typename T>
void scale_only(int64_t M, int64_t N, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
}

// Products of up to kGemvRows rows as one gemv per row: this OpenBLAS does not forward M = 1 to
// gemv (5 vs 22 GFLOP/s), and its gemms of 2 or 3 rows ran at under half a gemv's rate. One
// thread, AMD EPYC, NumPy's OpenBLAS, [M, 256] x [256, 1024]: float32 20-21 GFLOP/s against 46
// for a gemv per row (the same for 2048x512 and 4096x1024 weights, and for x·W as in dx); float64
// 10.6-13.8 against 20; at 4 rows gemm won (59 against 48). On the Intel Xeon: 8-17 against 35.
constexpr int kGemvRows = 3;

void blas_call(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
               int ldb, float beta, float* C, int ldc) {
  if (M <= kGemvRows && !ta) {
    for (int i = 0; i < M; ++i)
      scipy_cblas_sgemv(CblasRowMajor, tb ? CblasNoTrans : CblasTrans, tb ? N : K, tb ? K : N, alpha, B, ldb,
                        A + static_cast<int64_t>(i) * lda, 1, beta, C + static_cast<int64_t>(i) * ldc, 1);
    return;
  }
  scipy_cblas_sgemm(CblasRowMajor, tr(ta), tr(tb), M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void blas_call(bool ta, bool tb, int M, int N, int K, double alpha, const double* A, int lda, const double* B,
               int ldb, double beta, double* C, int ldc) {
  if (M <= kGemvRows && !ta) {
    for (int i = 0; i < M; ++i)
      scipy_cblas_dgemv(CblasRowMajor, tb ? CblasNoTrans : CblasTrans, tb ? N : K, tb ? K : N, alpha, B, ldb,
                        A + static_cast<int64_t>(i) * lda, 1, beta, C + static_cast<int64_t>(i) * ldc, 1);
    return;
  }
  scipy_cblas_dgemm(CblasRowMajor, tr(ta), tr(tb), M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// Blocks along the larger of M and N: a fixed function of the shape (never of the thread
// count), so every block, hence C, has the same bits whichever thread computes it.
// Few, because each block is a BLAS call that packs the whole other operand again; the team's
// size already follows the machine's load (cpu_load.h), so blocks to take over from a
// descheduled peer paid less than the repacking cost. Backward at 2 threads (bench/ab_builds.py,
// median of per-round ratios): on the AMD EPYC, 4 blocks against 8: LSTM T=50 B=32 H=256
// 1.05-1.06x; GRU 1.05x; LSTM T=1000 B=16 H=128 0.93x, 1.03x, 1.08x; LSTM T=100 B=64 H=512
// 0.97x, 1.03x; RNN 1.00x. On the Intel Xeon, 2 against 4: RNN T=50 B=32 H=256 1.096x, GRU
// 1.048x, LSTM T=1000 B=16 H=128 1.054x, LSTM T=50 B=32 H=256 1.011x and 1.028x, LSTM T=100
// B=64 H=512 1.026x (forward 1.035x); next to a busy process, 1.029x-1.062x.
constexpr int64_t kMaxBlocks = 2;
constexpr int64_t kMinBlock = 64;       // rows or columns per block, at least
constexpr int64_t kSerialMacs = 1 << 21;  // below this, one call on one thread...
// ...unless the product has at most kFewRows rows (or columns) and the other operand is at least
// kStreamedBytes: such a product reads that operand once, at the memory's rate, which two threads
// double. A one-step call's input projection, 2 threads, Intel Xeon, the whole LSTM layer call
// (T=1 B=1, weights not frozen): I=H=256 (W_ih 1 MB) 92-117 -> 74-82 us, I=H=512 473-479 ->
// 439-450 us; but I=H=128 (256 KB, which stays in the L2 from call to call) 11.3-12.0 -> 12.2-12.8 us.
constexpr int64_t kFewRows = 4;
constexpr int64_t kStreamedBytes = 512 << 10;

template <typename T>
void gemm_blocked(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                  const T* B, int64_t ldb, T beta, T* C, int64_t ldc, int threads) {
  if (M == 0 || N == 0) return;
  if (K == 0) return scale_only(M, N, beta, C, ldc);
  // Something else (threadpoolctl, numpy's users) may have raised OpenBLAS's process-wide count.
  if (scipy_openblas_get_num_threads() != 1) scipy_openblas_set_num_threads(1);
  const bool by_rows = M >= N;
  const int64_t dim = by_rows ? M : N;
  int64_t nb = (dim + kMinBlock - 1) / kMinBlock;
  if (nb > kMaxBlocks) nb = kMaxBlocks;
  const int64_t step = ((dim + nb - 1) / nb + 15) / 16 * 16;  // multiple of 16: aligned block starts
  nb = (dim + step - 1) / step;
  const bool streamed = (by_rows ? N : M) <= kFewRows && dim * K * static_cast<int64_t>(sizeof(T)) >= kStreamedBytes;
  const bool serial = threads <= 1 || nb == 1 || (M * N * K < kSerialMacs && !streamed);
  auto block = [&](int64_t i) {
    const int64_t s0 = i * step, len = dim - s0 < step ? dim - s0 : step;
    if (by_rows) {
      const T* a = ta ? A + s0 : A + s0 * lda;
      blas_call(ta, tb, (int)len, (int)N, (int)K, alpha, a, (int)lda, B, (int)ldb, beta, C + s0 * ldc, (int)ldc);
    } else {
      const T* b = tb ? B + s0 * ldb : B + s0;
      blas_call(ta, tb, (int)M, (int)len, (int)K, alpha, A, (int)lda, b, (int)ldb, beta, C + s0, (int)ldc);
    }
  };
  if (serial) {
    for (int64_t i = 0; i < nb; ++i) block(i);
    return;
  }
  // The blocks as one phase of the block scheduler, for its team placement (parallel.h): a
  // worker woken onto the caller's CPU moves off it, and the team's last wait sleeps.
  const int nt = static_cast<int>(threads < nb ? threads : nb);
  BlockScheduler sched;
  sched.reset(1, static_cast<int>(nb), nt);
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
  {
    const int part = sched.start();
    sched.run(0, part, [&](int i) { block(i); });
    sched.finish();
  }
}

}  // namespace

void blas_init() {
  scipy_openblas_set_threads_callback_function(omp_blas_callback);
  scipy_openblas_set_num_threads(1);
}

std::string blas_kernels() {
  const char* name = scipy_openblas_get_corename();
  return name != nullptr ? name : "unknown";
}

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc, int threads) {
  gemm_blocked(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, threads);
}

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc, int threads) {
  gemm_blocked(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, threads);
}

}  // namespace fusedrnn
