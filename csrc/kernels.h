// The C++ core's interface: one layer in one direction, forward and BPTT, every cell,
// float and double. Raw pointers only (no Python); bindings.cpp is the only caller.
//
// Shapes (rightmost fastest): T steps, B batch, I input features, H hidden units,
// G gates per cell (RNN 1, LSTM 4, GRU 3), E extra saved arrays per cell (RNN 0, LSTM 2, GRU 1).
// Semantics (lengths, reverse, clipping): src/fusedrnn/backends/base.py.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "dims.h"

namespace fusedrnn {

enum class CellKind : int { kRnnTanh, kRnnRelu, kLstm, kGru, kGruResetBefore };

inline int cell_gates(CellKind c) {
  return c == CellKind::kLstm ? 4 : (c == CellKind::kGru || c == CellKind::kGruResetBefore) ? 3 : 1;
}
inline int cell_extra(CellKind c) {
  return c == CellKind::kLstm ? 2 : (c == CellKind::kGru || c == CellKind::kGruResetBefore) ? 1 : 0;
}

// Tile order, for the saved arrays that only the cells read: [T][Hp/16][B][W][16] with
// Hp = padded_units(H) and W arrays of 16 lanes per row (W = G for gates, E for extras).
// A unit block's rows follow one another in the cells' lane layout, so the forward's cell
// writes them and the backward's reads them in place, one run of memory per block and step.

template <typename T>
struct ForwardArgs {
  LayerDims d;
  const T* x;        // [T, B, I]
  const T* h0;       // [B, H]
  const T* c0;       // [B, H] LSTM only, else null
  const T* w_ih;     // [G*H, I]
  const T* w_hh;     // [G*H, H]
  const T* b_ih;     // [G*H]
  const T* b_hh;     // [G*H]
  const int64_t* lengths;  // [B], 0 <= lengths[b] <= T
  bool reverse;
  // Non-zero: the id of the frozen snapshot w_ih and w_hh belong to (read-only arrays owning their
  // data, which never change while it lives): packings cached under it are used unchecked.
  unsigned long long frozen_id;
  T* y;              // [T, B, H] out
  T* h_n;            // [B, H] out
  T* c_n;            // [B, H] out, LSTM only
  // Training only (null at inference). gates and extra are in tile order (above).
  T* gates;          // gate activations, T*B*G*Hp
  T* hprev;          // [T, B, H] state each step read
  T* extra;          // cell extras (LSTM c, tanh c'; GRU W_hn h + b_hn), T*B*E*Hp; reset-before
                     // GRU: r*h, [T, B, H] (it feeds a product)
  int threads;
};

template <typename T>
struct BackwardArgs {
  LayerDims d;
  const T* x;        // [T, B, I]
  const T* w_ih;     // [G*H, I]
  const T* w_hh;     // [G*H, H]
  const int64_t* lengths;
  bool reverse;
  const T* gates;    // as saved by the training forward
  const T* hprev;
  const T* extra;
  const T* dy;       // [T, B, H]
  const T* dh_n;     // [B, H]
  const T* dc_n;     // [B, H] LSTM only
  T clip_gate;       // 0: off
  T clip_value;      // 0: off
  bool bias;         // count db_ih, db_hh in sqnorm
  T* dx;             // [T, B, I] out, or null: not computed
  T* dh0;            // [B, H] out
  T* dc0;            // [B, H] out, LSTM only
  T* dw_ih;          // [G*H, I] out
  T* dw_hh;          // [G*H, H] out
  T* db_ih;          // [G*H] out
  T* db_hh;          // [G*H] out
  double* sqnorm;    // out: sum of squares of the parameter gradients after the value clamp
  int threads;
};

template <typename T>
void layer_forward(CellKind cell, const ForwardArgs<T>& args);
template <typename T>
void layer_backward(CellKind cell, const BackwardArgs<T>& args);

// The SIMD path the kernels take: the widest this CPU runs, "avx512" (F and DQ), "avx2+fma"
// or "scalar". set_simd_path forces a narrower one (tests, comparisons); "auto" restores the
// choice. FUSEDRNN_SIMD=<path> in the environment chooses at import (never wider than the CPU).
std::string simd_path();
void set_simd_path(const std::string& path);
std::vector<std::string> simd_paths();  // the paths this CPU runs, widest first

// Test hook: with it on, every member of a forward's team also computes its blocks' input tiles of
// the next step after each step, not only while it waits (layer_forward.h), so that tests see
// tiles computed ahead read, and ones finished too late skipped, whatever the timing. Off by default.
void set_input_tiles_ahead_always(bool on);
bool input_tiles_ahead_always();

// Whether this build has the x86 SIMD paths: elsewhere (arm64) their translation units compile
// to nothing and only the scalar path exists.
#if defined(__x86_64__) || defined(__i386__)
#define FUSEDRNN_X86 1
#else
#define FUSEDRNN_X86 0
#endif

// Per-ISA entry points (kernels_<isa>_<dtype>.cpp), chosen by kernels.cpp.
enum class Isa { kScalar, kAvx2, kAvx512 };
template <Isa isa, typename T>
void layer_forward_isa(CellKind cell, const ForwardArgs<T>& args);
template <Isa isa, typename T>
void layer_backward_isa(CellKind cell, const BackwardArgs<T>& args);

}  // namespace fusedrnn
