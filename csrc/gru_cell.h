// GRU gate math for one step of one batch row and one block of 16 hidden units, in both
// forms, forward and backward. Knows nothing of time, threads or BLAS. Include inside an
// ISA namespace. Gate blocks in PyTorch order r, z, n; array[k*16 + u] is gate k of unit u.
//   r = σ(ax_r + ah_r)  z = σ(ax_z + ah_z)  h' = (1 - z) * n + z * h
//   linear before reset (GruCell):      n = tanh(ax_n + r * ah_n), ah_n = W_hn h + b_hn
//                                        saved: gates (r, z, n), extra = ah_n
//   reset before (GruResetBeforeCell):  n = tanh(ax_n + W_hn (r*h) + b_hn); the layer runs it
//                                        in two phases (r, z; then n from r*h), extra = r*h
// clip_gate clamps da_r, da_z, da_n; the clamped da_n flows into both the x part, the h part
// and da_r.
#pragma once

struct GruCell {
  static constexpr int kGates = 3;
  static constexpr int kExtra = 1;
  static constexpr bool kCellState = false;
  static constexpr bool kResetBefore = false;
  static constexpr bool kReadsH = true;  // h' = (1 - z) * n + z * h
  static constexpr bool hidden_bias_apart(int gate) { return gate == kN; }  // b_hn sits inside r * (.)
  enum Gate : int { kR = 0, kZ = 1, kN = 2 };

  template <class V, typename T>
  static void forward(const T* ax, const T* ah, const T* h, const T* /*c*/, T* gates, T* h_out, T* /*c_out*/,
                      T* extra) {
    constexpr int L = kBlock;
    for (int u = 0; u < L; u += V::kWidth) {
      const V r = V::sigmoid(V::load(ax + kR * L + u) + V::load(ah + kR * L + u));
      const V z = V::sigmoid(V::load(ax + kZ * L + u) + V::load(ah + kZ * L + u));
      const V hn = V::load(ah + kN * L + u);
      const V n = V::tanh(V::load(ax + kN * L + u) + r * hn);
      const V hp = V::load(h + u);
      r.store(gates + kR * L + u);
      z.store(gates + kZ * L + u);
      n.store(gates + kN * L + u);
      hn.store(extra + u);
      (n + z * (hp - n)).store(h_out + u);
    }
  }

  template <class V, typename T>
  static void backward(const T* gates, const T* h, const T* extra, const T* dh, T* /*dc*/, T clip, T* dgx,
                       T* dgh, T* dh_direct) {
    constexpr int L = kBlock;
    const V one = V::set1(T(1));
    for (int u = 0; u < L; u += V::kWidth) {
      const V r = V::load(gates + kR * L + u), z = V::load(gates + kZ * L + u), n = V::load(gates + kN * L + u);
      const V hp = V::load(h + u), hn = V::load(extra + u), d = V::load(dh + u);
      V da_n = d * (one - z) * (one - n * n);
      V da_z = d * (hp - n) * z * (one - z);
      if (clip > 0) da_n = V::clamp(da_n, clip), da_z = V::clamp(da_z, clip);
      V da_r = da_n * hn * r * (one - r);
      if (clip > 0) da_r = V::clamp(da_r, clip);
      da_r.store(dgx + kR * L + u);
      da_z.store(dgx + kZ * L + u);
      da_n.store(dgx + kN * L + u);
      da_r.store(dgh + kR * L + u);
      da_z.store(dgh + kZ * L + u);
      (da_n * r).store(dgh + kN * L + u);
      (d * z).store(dh_direct + u);
    }
  }
};

struct GruResetBeforeCell {
  static constexpr int kGates = 3;
  static constexpr int kExtra = 1;
  static constexpr bool kCellState = false;
  static constexpr bool kResetBefore = true;
  static constexpr bool kReadsH = true;  // r * h and z * h
  static constexpr bool hidden_bias_apart(int) { return false; }
  enum Gate : int { kR = 0, kZ = 1, kN = 2 };

  // Phase 1: r, z from ax, ah (r, z blocks); rh = r * h, saved as extra and fed to W_hn.
  template <class V, typename T>
  static void forward_rz(const T* ax, const T* ah, const T* h, T* gates, T* rh) {
    constexpr int L = kBlock;
    for (int u = 0; u < L; u += V::kWidth) {
      const V r = V::sigmoid(V::load(ax + kR * L + u) + V::load(ah + kR * L + u));
      const V z = V::sigmoid(V::load(ax + kZ * L + u) + V::load(ah + kZ * L + u));
      r.store(gates + kR * L + u);
      z.store(gates + kZ * L + u);
      (r * V::load(h + u)).store(rh + u);
    }
  }
  // Phase 2: ahn = (r*h) W_hnᵀ: [16]; n and h'.
  template <class V, typename T>
  static void forward_n(const T* ax, const T* ahn, const T* h, T* gates, T* h_out) {
    constexpr int L = kBlock;
    for (int u = 0; u < L; u += V::kWidth) {
      const V n = V::tanh(V::load(ax + kN * L + u) + V::load(ahn + u));
      const V z = V::load(gates + kZ * L + u);
      n.store(gates + kN * L + u);
      (n + z * (V::load(h + u) - n)).store(h_out + u);
    }
  }
  // Backward phase 1: da_n, da_z (clamped) and dh_direct = dh * z.
  template <class V, typename T>
  static void backward_nz(const T* gates, const T* h, const T* dh, T clip, T* dg, T* dh_direct) {
    constexpr int L = kBlock;
    const V one = V::set1(T(1));
    for (int u = 0; u < L; u += V::kWidth) {
      const V z = V::load(gates + kZ * L + u), n = V::load(gates + kN * L + u);
      const V hp = V::load(h + u), d = V::load(dh + u);
      V da_n = d * (one - z) * (one - n * n);
      V da_z = d * (hp - n) * z * (one - z);
      if (clip > 0) da_n = V::clamp(da_n, clip), da_z = V::clamp(da_z, clip);
      da_z.store(dg + kZ * L + u);
      da_n.store(dg + kN * L + u);
      (d * z).store(dh_direct + u);
    }
  }
  // Backward phase 2: drh = da_n W_hn (gradient w.r.t. r*h): [16] -> da_r; dh_direct += drh * r.
  template <class V, typename T>
  static void backward_r(const T* gates, const T* h, const T* drh, T clip, T* dg, T* dh_direct) {
    constexpr int L = kBlock;
    const V one = V::set1(T(1));
    for (int u = 0; u < L; u += V::kWidth) {
      const V r = V::load(gates + kR * L + u), d = V::load(drh + u);
      V da_r = d * V::load(h + u) * r * (one - r);
      if (clip > 0) da_r = V::clamp(da_r, clip);
      da_r.store(dg + kR * L + u);
      (V::load(dh_direct + u) + d * r).store(dh_direct + u);
    }
  }
};
