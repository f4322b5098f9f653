// The AVX2+FMA kernels for double; run only on CPUs that have AVX2 and FMA (kernels.cpp checks).
// Compiles to nothing on other CPU families (kernels.h FUSEDRNN_X86).
#include "kernels.h"
#if FUSEDRNN_X86
#include <immintrin.h>

#include "kernels_prelude.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace fusedrnn {
namespace avx2 {
#include "vec_avx2.h"
}  // namespace avx2
}  // namespace fusedrnn
#define FUSEDRNN_ISA_NS avx2
#define FUSEDRNN_ISA Isa::kAvx2
#define FUSEDRNN_VEC VecAvx2
#define FUSEDRNN_DTYPE double
#include "kernels_isa.inc"
#pragma GCC pop_options
#endif  // FUSEDRNN_X86
