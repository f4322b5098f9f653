// Wraps OpenBLAS (scipy-openblas32, symbols prefixed scipy_): GEMM calls and its threading setup.
#include "gemm.h"

#include <cblas.h>

#include <cstdio>
#include <cstdlib>

#include "parallel.h"

namespace fusedrnn {

namespace {

// OpenBLAS's level-3 jobs spin-wait on each other, so all numjobs must run at once:
// run them on an OpenMP team instead of OpenBLAS's own pthread pool, so that one pool
// of threads serves both (two spinning pools on 2 cores made an LSTM 13x slower).
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

}  // namespace

void blas_init() {
  scipy_openblas_set_threads_callback_function(omp_blas_callback);
  blas_set_threads(default_threads());
}

void blas_set_threads(int n) { scipy_openblas_set_num_threads(n < 1 ? 1 : n); }

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (M == 1 && !ta) {  // this OpenBLAS does not forward M = 1 to gemv (5 vs 22 GFLOP/s)
    scipy_cblas_sgemv(CblasRowMajor, tb ? CblasNoTrans : CblasTrans, tb ? (int)N : (int)K,
                      tb ? (int)K : (int)N, alpha, B, (int)ldb, A, 1, beta, C, 1);
    return;
  }
  scipy_cblas_sgemm(CblasRowMajor, tr(ta), tr(tb), (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb,
                    beta, C, (int)ldc);
}

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (M == 1 && !ta) {
    scipy_cblas_dgemv(CblasRowMajor, tb ? CblasNoTrans : CblasTrans, tb ? (int)N : (int)K,
                      tb ? (int)K : (int)N, alpha, B, (int)ldb, A, 1, beta, C, 1);
    return;
  }
  scipy_cblas_dgemm(CblasRowMajor, tr(ta), tr(tb), (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb,
                    beta, C, (int)ldc);
}

}  // namespace fusedrnn
