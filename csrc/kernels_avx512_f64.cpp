// The AVX-512 kernels for double; run only on CPUs that have AVX-512 F and DQ (kernels.cpp checks).
// Compiles to nothing on other CPU families (kernels.h FUSEDRNN_X86).
#include "kernels.h"
#if FUSEDRNN_X86
#include <immintrin.h>

#include "kernels_prelude.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx2,fma")
namespace fusedrnn {
namespace avx512 {
#include "vec_avx512.h"
}  // namespace avx512
}  // namespace fusedrnn
#define FUSEDRNN_ISA_NS avx512
#define FUSEDRNN_ISA Isa::kAvx512
#define FUSEDRNN_VEC VecAvx512
#define FUSEDRNN_DTYPE double
#include "kernels_isa.inc"
#pragma GCC pop_options
#endif  // FUSEDRNN_X86
