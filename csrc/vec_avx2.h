// AVX2+FMA vectors (8 floats, 4 doubles) with the ops of vec_scalar.h, including our own
// polynomial exp/tanh: portable (no libmvec) and the same bits on every run and thread.
// Include only inside `#pragma GCC target("avx2,fma")` and an ISA namespace.
#pragma once
#include <immintrin.h>

#include <cmath>

template <typename T>
struct VecAvx2;

template <>
struct VecAvx2<float> {
  using Elem = float;
  static constexpr int kWidth = 8;
  static constexpr int kRows = 6;  // x 2 vectors: 12 accumulators of the 16 registers
  static constexpr int kWideRows = 0;
  static constexpr int kTripleRows = 0;
  static constexpr int kRegisters = 16;  // vector registers
  __m256 v;
  static VecAvx2 load(const float* p) { return {_mm256_loadu_ps(p)}; }
  // x stays in a register (no memory operand folded into its uses).
  static void in_register(VecAvx2& x) { asm("" : "+v"(x.v)); }
  void store(float* p) const { _mm256_storeu_ps(p, v); }
  static VecAvx2 set1(float x) { return {_mm256_set1_ps(x)}; }
  static VecAvx2 zero() { return {_mm256_setzero_ps()}; }
  VecAvx2 operator+(VecAvx2 b) const { return {_mm256_add_ps(v, b.v)}; }
  VecAvx2 operator-(VecAvx2 b) const { return {_mm256_sub_ps(v, b.v)}; }
  VecAvx2 operator*(VecAvx2 b) const { return {_mm256_mul_ps(v, b.v)}; }
  VecAvx2 operator/(VecAvx2 b) const { return {_mm256_div_ps(v, b.v)}; }
  static VecAvx2 fmadd(VecAvx2 a, VecAvx2 b, VecAvx2 c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
  // min/max return their second operand when either is NaN: x goes second so NaN survives.
  static VecAvx2 clamp(VecAvx2 x, float c) {
    return {_mm256_max_ps(_mm256_set1_ps(-c), _mm256_min_ps(_mm256_set1_ps(c), x.v))};
  }
  static VecAvx2 relu(VecAvx2 x) { return {_mm256_max_ps(_mm256_setzero_ps(), x.v)}; }
  static VecAvx2 where_pos(VecAvx2 h, VecAvx2 d) {
    return {_mm256_and_ps(_mm256_cmp_ps(h.v, _mm256_setzero_ps(), _CMP_GT_OQ), d.v)};
  }
  // exp(x) - 1 accurate near 0 (so tanh keeps its relative accuracy for small x), and
  // exp(x) = expm1 + 1. Range reduction x = n ln2 + r, |r| <= ln2/2, degree-7 polynomial.
  static __m256 expm1_(__m256 x0) {
    const __m256 x = _mm256_max_ps(_mm256_set1_ps(-87.0f), _mm256_min_ps(_mm256_set1_ps(88.0f), x0));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    // p(r) = (exp(r) - 1 - r) / r^2, Taylor to r^7
    __m256 p = _mm256_set1_ps(1.0f / 40320);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 5040));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    const __m256 em1_r = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r);  // exp(r) - 1
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    const __m256 scale = _mm256_castsi256_ps(bits);  // 2^n
    // 2^n (exp(r) - 1) + (2^n - 1): exact 0 offset when n == 0
    __m256 e = _mm256_fmadd_ps(scale, em1_r, _mm256_sub_ps(scale, _mm256_set1_ps(1.0f)));
    // Saturate as libm does (exp -> inf, 0), so sigmoid(-inf) is exactly 0 like the reference.
    e = _mm256_blendv_ps(e, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x0, _mm256_set1_ps(88.7f), _CMP_GT_OQ));
    return _mm256_blendv_ps(e, _mm256_set1_ps(-1.0f), _mm256_cmp_ps(x0, _mm256_set1_ps(-104.0f), _CMP_LT_OQ));
  }
  static VecAvx2 sigmoid(VecAvx2 x) {
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 e = _mm256_add_ps(expm1_(_mm256_sub_ps(_mm256_setzero_ps(), x.v)), one);
    return {_mm256_div_ps(one, _mm256_add_ps(one, e))};
  }
  // tanh(x) = sign(x) * -m / (2 + m), m = expm1(-2|x|)
  static VecAvx2 tanh(VecAvx2 x) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 ax = _mm256_andnot_ps(sign, x.v);
    const __m256 m = expm1_(_mm256_mul_ps(ax, _mm256_set1_ps(-2.0f)));
    const __m256 t = _mm256_div_ps(_mm256_sub_ps(_mm256_setzero_ps(), m), _mm256_add_ps(_mm256_set1_ps(2.0f), m));
    return {_mm256_or_ps(t, _mm256_and_ps(sign, x.v))};
  }
};

template <>
struct VecAvx2<double> {
  using Elem = double;
  static constexpr int kWidth = 4;
  static constexpr int kRows = 3;  // x 4 vectors
  static constexpr int kWideRows = 0;
  static constexpr int kTripleRows = 0;
  static constexpr int kRegisters = 16;  // vector registers
  __m256d v;
  static VecAvx2 load(const double* p) { return {_mm256_loadu_pd(p)}; }
  static void in_register(VecAvx2& x) { asm("" : "+v"(x.v)); }
  void store(double* p) const { _mm256_storeu_pd(p, v); }
  static VecAvx2 set1(double x) { return {_mm256_set1_pd(x)}; }
  static VecAvx2 zero() { return {_mm256_setzero_pd()}; }
  VecAvx2 operator+(VecAvx2 b) const { return {_mm256_add_pd(v, b.v)}; }
  VecAvx2 operator-(VecAvx2 b) const { return {_mm256_sub_pd(v, b.v)}; }
  VecAvx2 operator*(VecAvx2 b) const { return {_mm256_mul_pd(v, b.v)}; }
  VecAvx2 operator/(VecAvx2 b) const { return {_mm256_div_pd(v, b.v)}; }
  static VecAvx2 fmadd(VecAvx2 a, VecAvx2 b, VecAvx2 c) { return {_mm256_fmadd_pd(a.v, b.v, c.v)}; }
  static VecAvx2 clamp(VecAvx2 x, double c) {
    return {_mm256_max_pd(_mm256_set1_pd(-c), _mm256_min_pd(_mm256_set1_pd(c), x.v))};
  }
  static VecAvx2 relu(VecAvx2 x) { return {_mm256_max_pd(_mm256_setzero_pd(), x.v)}; }
  static VecAvx2 where_pos(VecAvx2 h, VecAvx2 d) {
    return {_mm256_and_pd(_mm256_cmp_pd(h.v, _mm256_setzero_pd(), _CMP_GT_OQ), d.v)};
  }
  // As the float version; Taylor to r^13 for double precision.
  static __m256d expm1_(__m256d x0) {
    const __m256d x = _mm256_max_pd(_mm256_set1_pd(-708.0), _mm256_min_pd(_mm256_set1_pd(709.0), x0));
    const __m256d n = _mm256_round_pd(_mm256_mul_pd(x, _mm256_set1_pd(1.4426950408889634074)),
                                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(6.93145751953125E-1), x);
    r = _mm256_fnmadd_pd(n, _mm256_set1_pd(1.42860682030941723212E-6), r);
    double c[12];
    double f = 2.0;
    for (int k = 0; k < 12; ++k) {  // c[k] = 1 / (k+2)!
      c[k] = 1.0 / f;
      f *= (k + 3);
    }
    __m256d p = _mm256_set1_pd(c[11]);
    for (int k = 10; k >= 0; --k) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(c[k]));
    const __m256d em1_r = _mm256_fmadd_pd(_mm256_mul_pd(p, r), r, r);
    const __m256i n64 = _mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(n));
    const __m256i bits = _mm256_slli_epi64(_mm256_add_epi64(n64, _mm256_set1_epi64x(1023)), 52);
    const __m256d scale = _mm256_castsi256_pd(bits);
    __m256d e = _mm256_fmadd_pd(scale, em1_r, _mm256_sub_pd(scale, _mm256_set1_pd(1.0)));
    e = _mm256_blendv_pd(e, _mm256_set1_pd(INFINITY), _mm256_cmp_pd(x0, _mm256_set1_pd(709.8), _CMP_GT_OQ));
    return _mm256_blendv_pd(e, _mm256_set1_pd(-1.0), _mm256_cmp_pd(x0, _mm256_set1_pd(-746.0), _CMP_LT_OQ));
  }
  static VecAvx2 sigmoid(VecAvx2 x) {
    const __m256d one = _mm256_set1_pd(1.0);
    const __m256d e = _mm256_add_pd(expm1_(_mm256_sub_pd(_mm256_setzero_pd(), x.v)), one);
    return {_mm256_div_pd(one, _mm256_add_pd(one, e))};
  }
  static VecAvx2 tanh(VecAvx2 x) {
    const __m256d sign = _mm256_set1_pd(-0.0);
    const __m256d ax = _mm256_andnot_pd(sign, x.v);
    const __m256d m = expm1_(_mm256_mul_pd(ax, _mm256_set1_pd(-2.0)));
    const __m256d t = _mm256_div_pd(_mm256_sub_pd(_mm256_setzero_pd(), m), _mm256_add_pd(_mm256_set1_pd(2.0), m));
    return {_mm256_or_pd(t, _mm256_and_pd(sign, x.v))};
  }
};
