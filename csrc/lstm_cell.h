// LSTM gate math for one step of one batch row and one block of 16 hidden units, forward
// and backward. Knows nothing of time, threads or BLAS. Include inside an ISA namespace.
//
// Gate blocks in PyTorch order i, f, g, o: array[k*16 + u] is gate k of unit u.
//   i = σ(a_i)  f = σ(a_f)  g = tanh(a_g)  o = σ(a_o)   c' = f*c + i*g   h' = o*tanh(c')
// Saved for backward: gates (i, f, g, o) and extra = (c, tanh(c')).
#pragma once

struct LstmCell {
  static constexpr int kGates = 4;
  static constexpr int kExtra = 2;
  static constexpr bool kCellState = true;
  static constexpr bool kResetBefore = false;
  static constexpr bool kReadsH = false;  // the forward reads h_{t-1} only through its product
  static constexpr bool hidden_bias_apart(int) { return false; }
  enum Gate : int { kI = 0, kF = 1, kG = 2, kO = 3 };

  template <class V, typename T>
  static void forward(const T* ax, const T* ah, const T* /*h*/, const T* c, T* gates, T* h_out, T* c_out,
                      T* extra) {
    constexpr int L = kBlock;
    for (int u = 0; u < L; u += V::kWidth) {
      const V i = V::sigmoid(V::load(ax + kI * L + u) + V::load(ah + kI * L + u));
      const V f = V::sigmoid(V::load(ax + kF * L + u) + V::load(ah + kF * L + u));
      const V g = V::tanh(V::load(ax + kG * L + u) + V::load(ah + kG * L + u));
      const V o = V::sigmoid(V::load(ax + kO * L + u) + V::load(ah + kO * L + u));
      const V cp = V::load(c + u);
      const V cn = f * cp + i * g;
      const V tc = V::tanh(cn);
      i.store(gates + kI * L + u);
      f.store(gates + kF * L + u);
      g.store(gates + kG * L + u);
      o.store(gates + kO * L + u);
      cp.store(extra + u);
      tc.store(extra + L + u);
      cn.store(c_out + u);
      (o * tc).store(h_out + u);
    }
  }

  // dh: [16] gradient w.r.t. h'; dc: [16] in: gradient w.r.t. c', out: w.r.t. c.
  // The clamp acts on the gate pre-activations only; the c' -> c path has no gate.
  template <class V, typename T>
  static void backward(const T* gates, const T* /*h*/, const T* extra, const T* dh, T* dc, T clip, T* dgx,
                       T* dgh, T* dh_direct) {
    constexpr int L = kBlock;
    const V one = V::set1(T(1));
    for (int u = 0; u < L; u += V::kWidth) {
      const V i = V::load(gates + kI * L + u), f = V::load(gates + kF * L + u);
      const V g = V::load(gates + kG * L + u), o = V::load(gates + kO * L + u);
      const V cp = V::load(extra + u), tc = V::load(extra + L + u);
      const V d = V::load(dh + u);
      const V dct = V::load(dc + u) + d * o * (one - tc * tc);
      V da[4] = {dct * g * i * (one - i), dct * cp * f * (one - f), dct * i * (one - g * g),
                 d * tc * o * (one - o)};
      for (int k = 0; k < 4; ++k) {
        if (clip > 0) da[k] = V::clamp(da[k], clip);
        da[k].store(dgx + k * L + u);
        da[k].store(dgh + k * L + u);
      }
      (dct * f).store(dc + u);
      V::zero().store(dh_direct + u);
    }
  }
};
