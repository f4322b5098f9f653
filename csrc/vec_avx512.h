// AVX-512 vectors (16 floats, 8 doubles) with the ops of vec_scalar.h and the same polynomial
// exp/tanh as vec_avx2.h, op for op: the same bits as the AVX2 path, at twice the width.
// Include only inside `#pragma GCC target("avx512f,avx512dq,avx2,fma")` and an ISA namespace.
#pragma once
#include <immintrin.h>

#include <cmath>

template <typename T>
struct VecAvx512;

template <>
struct VecAvx512<float> {
  using Elem = float;
  static constexpr int kWidth = 16;
  // One vector per 16-column block: 12 rows x 1 block keep 12 accumulators, 12 rows x 2
  // blocks (wide tiles) and 8 rows x 3 blocks 24 of the 32 registers, with the panel row and
  // broadcasts beside them.
  static constexpr int kRows = 12;
  static constexpr int kWideRows = 12;
  static constexpr int kTripleRows = 8;
  static constexpr int kRegisters = 32;  // vector registers
  __m512 v;
  static VecAvx512 load(const float* p) { return {_mm512_loadu_ps(p)}; }
  // x stays in a register (no memory operand folded into its uses).
  static void in_register(VecAvx512& x) { asm("" : "+v"(x.v)); }
  void store(float* p) const { _mm512_storeu_ps(p, v); }
  static VecAvx512 set1(float x) { return {_mm512_set1_ps(x)}; }
  static VecAvx512 zero() { return {_mm512_setzero_ps()}; }
  VecAvx512 operator+(VecAvx512 b) const { return {_mm512_add_ps(v, b.v)}; }
  VecAvx512 operator-(VecAvx512 b) const { return {_mm512_sub_ps(v, b.v)}; }
  VecAvx512 operator*(VecAvx512 b) const { return {_mm512_mul_ps(v, b.v)}; }
  VecAvx512 operator/(VecAvx512 b) const { return {_mm512_div_ps(v, b.v)}; }
  static VecAvx512 fmadd(VecAvx512 a, VecAvx512 b, VecAvx512 c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
  // min/max return their second operand when either is NaN: x goes second so NaN survives.
  static VecAvx512 clamp(VecAvx512 x, float c) {
    return {_mm512_max_ps(_mm512_set1_ps(-c), _mm512_min_ps(_mm512_set1_ps(c), x.v))};
  }
  static VecAvx512 relu(VecAvx512 x) { return {_mm512_max_ps(_mm512_setzero_ps(), x.v)}; }
  static VecAvx512 where_pos(VecAvx512 h, VecAvx512 d) {
    return {_mm512_maskz_mov_ps(_mm512_cmp_ps_mask(h.v, _mm512_setzero_ps(), _CMP_GT_OQ), d.v)};
  }
  // exp(x) - 1, as VecAvx2<float>::expm1_ (range reduction, degree-7 polynomial).
  static __m512 expm1_(__m512 x0) {
    const __m512 x = _mm512_max_ps(_mm512_set1_ps(-87.0f), _mm512_min_ps(_mm512_set1_ps(88.0f), x0));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.0f / 40320);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 5040));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    const __m512 em1_r = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r);
    const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    const __m512 scale = _mm512_castsi512_ps(bits);
    __m512 e = _mm512_fmadd_ps(scale, em1_r, _mm512_sub_ps(scale, _mm512_set1_ps(1.0f)));
    e = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x0, _mm512_set1_ps(88.7f), _CMP_GT_OQ), e, _mm512_set1_ps(INFINITY));
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x0, _mm512_set1_ps(-104.0f), _CMP_LT_OQ), e, _mm512_set1_ps(-1.0f));
  }
  static VecAvx512 sigmoid(VecAvx512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 e = _mm512_add_ps(expm1_(_mm512_sub_ps(_mm512_setzero_ps(), x.v)), one);
    return {_mm512_div_ps(one, _mm512_add_ps(one, e))};
  }
  // tanh(x) = sign(x) * -m / (2 + m), m = expm1(-2|x|)
  static VecAvx512 tanh(VecAvx512 x) {
    const __m512 sign = _mm512_set1_ps(-0.0f);
    const __m512 ax = _mm512_andnot_ps(sign, x.v);
    const __m512 m = expm1_(_mm512_mul_ps(ax, _mm512_set1_ps(-2.0f)));
    const __m512 t = _mm512_div_ps(_mm512_sub_ps(_mm512_setzero_ps(), m), _mm512_add_ps(_mm512_set1_ps(2.0f), m));
    return {_mm512_or_ps(t, _mm512_and_ps(sign, x.v))};
  }
};

template <>
struct VecAvx512<double> {
  using Elem = double;
  static constexpr int kWidth = 8;
  static constexpr int kRows = 6;      // two vectors per 16-column block: 12 accumulators
  static constexpr int kWideRows = 6;  // x 4 vectors: 24
  static constexpr int kTripleRows = 0;
  static constexpr int kRegisters = 32;  // vector registers
  __m512d v;
  static VecAvx512 load(const double* p) { return {_mm512_loadu_pd(p)}; }
  static void in_register(VecAvx512& x) { asm("" : "+v"(x.v)); }
  void store(double* p) const { _mm512_storeu_pd(p, v); }
  static VecAvx512 set1(double x) { return {_mm512_set1_pd(x)}; }
  static VecAvx512 zero() { return {_mm512_setzero_pd()}; }
  VecAvx512 operator+(VecAvx512 b) const { return {_mm512_add_pd(v, b.v)}; }
  VecAvx512 operator-(VecAvx512 b) const { return {_mm512_sub_pd(v, b.v)}; }
  VecAvx512 operator*(VecAvx512 b) const { return {_mm512_mul_pd(v, b.v)}; }
  VecAvx512 operator/(VecAvx512 b) const { return {_mm512_div_pd(v, b.v)}; }
  static VecAvx512 fmadd(VecAvx512 a, VecAvx512 b, VecAvx512 c) { return {_mm512_fmadd_pd(a.v, b.v, c.v)}; }
  static VecAvx512 clamp(VecAvx512 x, double c) {
    return {_mm512_max_pd(_mm512_set1_pd(-c), _mm512_min_pd(_mm512_set1_pd(c), x.v))};
  }
  static VecAvx512 relu(VecAvx512 x) { return {_mm512_max_pd(_mm512_setzero_pd(), x.v)}; }
  static VecAvx512 where_pos(VecAvx512 h, VecAvx512 d) {
    return {_mm512_maskz_mov_pd(_mm512_cmp_pd_mask(h.v, _mm512_setzero_pd(), _CMP_GT_OQ), d.v)};
  }
  // As VecAvx2<double>::expm1_: Taylor to r^13.
  static __m512d expm1_(__m512d x0) {
    const __m512d x = _mm512_max_pd(_mm512_set1_pd(-708.0), _mm512_min_pd(_mm512_set1_pd(709.0), x0));
    const __m512d n = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(1.4426950408889634074)),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(6.93145751953125E-1), x);
    r = _mm512_fnmadd_pd(n, _mm512_set1_pd(1.42860682030941723212E-6), r);
    double c[12];
    double f = 2.0;
    for (int k = 0; k < 12; ++k) {  // c[k] = 1 / (k+2)!
      c[k] = 1.0 / f;
      f *= (k + 3);
    }
    __m512d p = _mm512_set1_pd(c[11]);
    for (int k = 10; k >= 0; --k) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(c[k]));
    const __m512d em1_r = _mm512_fmadd_pd(_mm512_mul_pd(p, r), r, r);
    const __m512i n64 = _mm512_cvtepi32_epi64(_mm512_cvtpd_epi32(n));
    const __m512i bits = _mm512_slli_epi64(_mm512_add_epi64(n64, _mm512_set1_epi64(1023)), 52);
    const __m512d scale = _mm512_castsi512_pd(bits);
    __m512d e = _mm512_fmadd_pd(scale, em1_r, _mm512_sub_pd(scale, _mm512_set1_pd(1.0)));
    e = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(x0, _mm512_set1_pd(709.8), _CMP_GT_OQ), e, _mm512_set1_pd(INFINITY));
    return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(x0, _mm512_set1_pd(-746.0), _CMP_LT_OQ), e, _mm512_set1_pd(-1.0));
  }
  static VecAvx512 sigmoid(VecAvx512 x) {
    const __m512d one = _mm512_set1_pd(1.0);
    const __m512d e = _mm512_add_pd(expm1_(_mm512_sub_pd(_mm512_setzero_pd(), x.v)), one);
    return {_mm512_div_pd(one, _mm512_add_pd(one, e))};
  }
  static VecAvx512 tanh(VecAvx512 x) {
    const __m512d sign = _mm512_set1_pd(-0.0);
    const __m512d ax = _mm512_andnot_pd(sign, x.v);
    const __m512d m = expm1_(_mm512_mul_pd(ax, _mm512_set1_pd(-2.0)));
    const __m512d t = _mm512_div_pd(_mm512_sub_pd(_mm512_setzero_pd(), m), _mm512_add_pd(_mm512_set1_pd(2.0), m));
    return {_mm512_or_pd(t, _mm512_and_pd(sign, x.v))};
  }
};
