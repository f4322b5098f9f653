// Chooses the SIMD path once (CPU check, FUSEDRNN_SIMD) and forwards each call to it;
// also holds the default thread count.
#include <atomic>
#include <cstdlib>
#include <stdexcept>

#include "build_info.h"
#include "kernels.h"
#include "parallel.h"

namespace fusedrnn {

namespace {

bool initial_avx2() {
  const char* env = std::getenv("FUSEDRNN_SIMD");
  if (env && std::string(env) == "scalar") return false;
  return cpu_has_avx2_fma();
}

std::atomic<bool> use_avx2{initial_avx2()};

int initial_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

std::atomic<int> threads{initial_threads()};

}  // namespace

int default_threads() { return threads.load(); }
void set_default_threads(int n) { threads.store(n < 1 ? 1 : n); }

std::string simd_path() { return use_avx2.load() ? "avx2+fma" : "scalar"; }

void set_simd_path(const std::string& path) {
  if (path == "scalar") {
    use_avx2.store(false);
  } else if (path == "auto") {
    use_avx2.store(cpu_has_avx2_fma());
  } else if (path == "avx2+fma") {
    if (!cpu_has_avx2_fma()) throw std::invalid_argument("path: this CPU has no AVX2+FMA");
    use_avx2.store(true);
  } else {
    throw std::invalid_argument("path: expected 'auto', 'scalar' or 'avx2+fma', got '" + path + "'");
  }
}

template <typename T>
void layer_forward(CellKind cell, const ForwardArgs<T>& args) {
  if (use_avx2.load())
    layer_forward_isa<Isa::kAvx2, T>(cell, args);
  else
    layer_forward_isa<Isa::kScalar, T>(cell, args);
}

template <typename T>
void layer_backward(CellKind cell, const BackwardArgs<T>& args) {
  if (use_avx2.load())
    layer_backward_isa<Isa::kAvx2, T>(cell, args);
  else
    layer_backward_isa<Isa::kScalar, T>(cell, args);
}

template void layer_forward<float>(CellKind, const ForwardArgs<float>&);
template void layer_forward<double>(CellKind, const ForwardArgs<double>&);
template void layer_backward<float>(CellKind, const BackwardArgs<float>&);
template void layer_backward<double>(CellKind, const BackwardArgs<double>&);

}  // namespace fusedrnn
