// The one seam to BLAS (scipy-openblas32): row-major GEMM for the large once-per-call products.
// Call only from serial code: OpenBLAS runs its jobs on our OpenMP team (see gemm.cpp).
#pragma once
#include <cstdint>

namespace fusedrnn {

// C[M,N] = alpha * op(A) op(B) + beta * C, row-major; op(X) = Xᵀ when trans_X.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
          int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

// Once at import: route OpenBLAS threads onto OpenMP and match its thread count to ours.
void blas_init();
void blas_set_threads(int n);

}  // namespace fusedrnn
