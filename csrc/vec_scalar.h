// The scalar "vector" of one lane: the portable path every CPU runs, and the template
// the AVX2 vectors (vec_avx2.h) mirror op for op. Include inside an ISA namespace.
#pragma once
#include <cmath>

template <typename T>
struct VecScalar {
  using Elem = T;
  static constexpr int kWidth = 1;
  static constexpr int kRows = 2;      // micro-kernel rows per tile (row-block height)
  static constexpr int kWideRows = 0;  // rows per tile of two 16-column blocks (0: no such tiles)
  static constexpr int kTripleRows = 0;  // rows per tile of three 16-column blocks (0: no such tiles)
  static constexpr int kRegisters = 16;  // vector registers
  T v;
  static VecScalar load(const T* p) { return {*p}; }
  static void in_register(VecScalar&) {}
  void store(T* p) const { *p = v; }
  static VecScalar set1(T x) { return {x}; }
  static VecScalar zero() { return {T(0)}; }
  VecScalar operator+(VecScalar b) const { return {v + b.v}; }
  VecScalar operator-(VecScalar b) const { return {v - b.v}; }
  VecScalar operator*(VecScalar b) const { return {v * b.v}; }
  VecScalar operator/(VecScalar b) const { return {v / b.v}; }
  static VecScalar fmadd(VecScalar a, VecScalar b, VecScalar c) { return {a.v * b.v + c.v}; }
  // x clamped to [-c, c]; NaN stays NaN.
  static VecScalar clamp(VecScalar x, T c) { return {x.v > c ? c : (x.v < -c ? -c : x.v)}; }
  static VecScalar relu(VecScalar x) { return {x.v < T(0) ? T(0) : x.v}; }
  // d where h > 0, else 0 (relu' written from the output).
  static VecScalar where_pos(VecScalar h, VecScalar d) { return {h.v > T(0) ? d.v : T(0)}; }
  static VecScalar sigmoid(VecScalar x) { return {T(1) / (T(1) + std::exp(-x.v))}; }
  static VecScalar tanh(VecScalar x) { return {std::tanh(x.v)}; }
};
