// LayerDims {T, B, I, H} and overflow-checked size products for one layer and direction.
// Shapes: T time steps, B batch, I input features, H hidden units, G gates per cell.
#pragma once
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace fusedrnn {

// a * b, or std::overflow_error when it does not fit in int64 (or in a BLAS int when blas_int).
inline int64_t checked_mul(int64_t a, int64_t b, const char* what) {
  int64_t r;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r))
    throw std::overflow_error(std::string(what) + ": size product overflows");
  return r;
}

// Hidden units per block of the kernels' tiles; saved arrays in tile order (kernels.h) pad H
// to a multiple of it.
constexpr int64_t kTileUnits = 16;
inline int64_t padded_units(int64_t H) { return (H + kTileUnits - 1) / kTileUnits * kTileUnits; }

struct LayerDims {
  int64_t T, B, I, H, G;

  // Throws std::invalid_argument when any product a kernel forms would overflow
  // int64, or when a BLAS dimension would not fit the 32-bit BLAS int.
  static LayerDims make(int64_t T, int64_t B, int64_t I, int64_t H, int64_t G) {
    LayerDims d{T, B, I, H, G};
    const int64_t tb = checked_mul(T, B, "T*B");
    const int64_t gh = checked_mul(G, H, "G*H");
    checked_mul(checked_mul(tb, checked_mul(G, padded_units(H), "G*H"), "T*B*G*H"), 8, "T*B*G*H bytes");
    checked_mul(checked_mul(tb, I, "T*B*I"), 8, "T*B*I bytes");
    checked_mul(checked_mul(gh, I > H ? I : H, "G*H*max(I,H)"), 8, "weight bytes");
    if (tb > INT_MAX || gh > INT_MAX || I > INT_MAX || H > INT_MAX)
      throw std::overflow_error("T*B, G*H, I and H must each fit a 32-bit BLAS int");
    return d;
  }
  int64_t gh() const { return G * H; }
  int64_t tb() const { return T * B; }
};

}  // namespace fusedrnn
