// Vanilla RNN gate math (tanh or relu) for one step of one batch row and one block of
// 16 hidden units, forward and backward. Knows nothing of time, threads or BLAS.
// Include inside an ISA namespace after microkernel.h (kBlock).
//
// Lane arrays are [16] (one value per hidden unit of the block); gate arrays [G][16].
//   a = xw + h W_hhᵀ + b      h' = act(a)      saved gates: h'
#pragma once

template <bool kRelu>
struct RnnCell {
  static constexpr int kGates = 1;
  static constexpr int kExtra = 0;         // [E][16] extra saved arrays
  static constexpr bool kCellState = false;
  static constexpr bool kResetBefore = false;
  static constexpr bool kReadsH = false;  // the forward reads h_{t-1} only through its product
  static constexpr bool hidden_bias_apart(int) { return false; }

  // ax, ah: [G][16] input part (biases in) and recurrent part of the pre-activations.
  // gates: [G][16] out (saved for backward); h_out: [16].
  template <class V, typename T>
  static void forward(const T* ax, const T* ah, const T* /*h*/, const T* /*c*/, T* gates, T* h_out,
                      T* /*c_out*/, T* /*extra*/) {
    for (int u = 0; u < kBlock; u += V::kWidth) {
      const V a = V::load(ax + u) + V::load(ah + u);
      const V h = kRelu ? V::relu(a) : V::tanh(a);
      h.store(gates + u);
      h.store(h_out + u);
    }
  }

  // dh: [16] gradient w.r.t. h'.  dgx, dgh: [G][16] gradients w.r.t. the x and h parts of
  // the pre-activations (clamped to ±clip when clip > 0).  dh_direct: [16] the part of
  // dh_prev that does not go through W_hh.
  template <class V, typename T>
  static void backward(const T* gates, const T* /*h*/, const T* /*extra*/, const T* dh, T* /*dc*/, T clip,
                       T* dgx, T* dgh, T* dh_direct) {
    for (int u = 0; u < kBlock; u += V::kWidth) {
      const V h = V::load(gates + u);
      const V d = V::load(dh + u);
      V da = kRelu ? V::where_pos(h, d) : d * (V::set1(T(1)) - h * h);
      if (clip > 0) da = V::clamp(da, clip);
      da.store(dgx + u);
      da.store(dgh + u);
      V::zero().store(dh_direct + u);
    }
  }
};
