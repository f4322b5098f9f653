// The one seam to BLAS (scipy-openblas32): row-major GEMM for the large once-per-call products.
// Call only from serial code: the product runs on its own OpenMP team of `threads`.
#pragma once
#include <cstdint>
#include <string>

namespace fusedrnn {

// C[M,N] = alpha * op(A) op(B) + beta * C, row-major; op(X) = Xᵀ when trans_X. Split in fixed
// blocks of rows or columns of C claimed by `threads` threads: bitwise the same for any count.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc, int threads);
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
          int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc, int threads);

// Once at import: OpenBLAS single-threaded (gemm parallelises over blocks itself).
void blas_init();

// The kernels OpenBLAS chose for this CPU ("Haswell", "SkylakeX", ...): its own detection, or
// OPENBLAS_CORETYPE where that is set (an AVX-512 CPU held to Haswell's runs these products at
// half speed; python -m fusedrnn info shows it).
std::string blas_kernels();

}  // namespace fusedrnn
