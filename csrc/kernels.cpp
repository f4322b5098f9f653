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

constexpr Isa kIsas[] = {Isa::kAvx512, Isa::kAvx2, Isa::kScalar};  // widest first

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx2: return "avx2+fma";
    case Isa::kScalar: break;
  }
  return "scalar";
}

bool cpu_runs(Isa isa) {
  switch (isa) {
    case Isa::kAvx512: return cpu_has_avx512();
    case Isa::kAvx2: return cpu_has_avx2_fma();
    case Isa::kScalar: break;
  }
  return true;
}

Isa widest() {
  for (Isa isa : kIsas)
    if (cpu_runs(isa)) return isa;
  return Isa::kScalar;
}

// FUSEDRNN_SIMD names a path; one this CPU cannot run gives the widest it can below it.
Isa initial_isa() {
  const char* env = std::getenv("FUSEDRNN_SIMD");
  if (env == nullptr) return widest();
  const std::string want(env);
  bool seen = false;
  for (Isa isa : kIsas) {
    seen = seen || want == isa_name(isa);
    if (seen && cpu_runs(isa)) return isa;
  }
  return widest();
}

std::atomic<Isa> current{initial_isa()};

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

std::string simd_path() { return isa_name(current.load()); }

namespace {
std::atomic<bool> ahead_always{false};
}  // namespace
void set_input_tiles_ahead_always(bool on) { ahead_always.store(on); }
bool input_tiles_ahead_always() { return ahead_always.load(); }

std::vector<std::string> simd_paths() {
  std::vector<std::string> names;
  for (Isa isa : kIsas)
    if (cpu_runs(isa)) names.emplace_back(isa_name(isa));
  return names;
}

void set_simd_path(const std::string& path) {
  if (path == "auto") return current.store(widest());
  for (Isa isa : kIsas) {
    if (path != isa_name(isa)) continue;
    if (!cpu_runs(isa)) throw std::invalid_argument("path: this CPU cannot run '" + path + "'");
    return current.store(isa);
  }
  throw std::invalid_argument("path: expected 'auto', 'scalar', 'avx2+fma' or 'avx512', got '" + path + "'");
}

template <typename T>
void layer_forward(CellKind cell, const ForwardArgs<T>& args) {
  switch (current.load()) {
#if FUSEDRNN_X86
    case Isa::kAvx512: return layer_forward_isa<Isa::kAvx512, T>(cell, args);
    case Isa::kAvx2: return layer_forward_isa<Isa::kAvx2, T>(cell, args);
#endif
    default: break;  // scalar; on other CPU families the only path (cpu_runs says so)
  }
  layer_forward_isa<Isa::kScalar, T>(cell, args);
}

template <typename T>
void layer_backward(CellKind cell, const BackwardArgs<T>& args) {
  switch (current.load()) {
#if FUSEDRNN_X86
    case Isa::kAvx512: return layer_backward_isa<Isa::kAvx512, T>(cell, args);
    case Isa::kAvx2: return layer_backward_isa<Isa::kAvx2, T>(cell, args);
#endif
    default: break;  // scalar; on other CPU families the only path (cpu_runs says so)
  }
  layer_backward_isa<Isa::kScalar, T>(cell, args);
}

template void layer_forward<float>(CellKind, const ForwardArgs<float>&);
template void layer_forward<double>(CellKind, const ForwardArgs<double>&);
template void layer_backward<float>(CellKind, const BackwardArgs<float>&);
template void layer_backward<double>(CellKind, const BackwardArgs<double>&);

}  // namespace fusedrnn
