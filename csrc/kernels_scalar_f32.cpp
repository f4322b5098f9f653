// The portable scalar kernels for float: the path of CPUs without AVX2, and a tested fallback.
#include "kernels_prelude.h"

namespace fusedrnn {
namespace scalar {
#include "vec_scalar.h"
}  // namespace scalar
}  // namespace fusedrnn
#define FUSEDRNN_ISA_NS scalar
#define FUSEDRNN_ISA Isa::kScalar
#define FUSEDRNN_VEC VecScalar
#define FUSEDRNN_DTYPE float
#include "kernels_isa.inc"
