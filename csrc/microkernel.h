// The per-step recurrent product C = A·P for a few rows of A against one packed panel of
// weights, for any vector type V (vec_scalar.h, vec_avx2.h). Include inside an ISA namespace.
//
// A: MR row pointers, each [K] (rows of h, or of the gate gradients; any batch rows)
// P: packed panel [K][ldp], columns in 16-wide blocks; C: [MR][ldc].
// Every output element is one accumulator summed over k = 0..K-1 in order, whatever the
// tile shape: results do not depend on how rows or columns are blocked or threaded.
// With kInit, every row's accumulators start from `init` (a bias row, [ncols]) instead of 0,
// so the tile's result needs no second pass to add it.
#pragma once

// Hidden units per block (threads own whole blocks): the unit blocks of the saved arrays' tile order.
constexpr int kBlock = static_cast<int>(kTileUnits);

template <class V, int MR, int NV, bool kInit>
inline void micro_tile(const typename V::Elem* const* A, int K, const typename V::Elem* P, int ldp,
                       typename V::Elem* C, int ldc, const typename V::Elem* init) {
  using T = typename V::Elem;
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) acc[i][j] = kInit ? V::load(init + j * V::kWidth) : V::zero();
  const T* a[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) a[i] = A[i];
  for (int k = 0; k < K; ++k) {
    const T* p = P + static_cast<long>(k) * ldp;
    V b[NV];
#pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) b[j] = V::load(p + j * V::kWidth);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const V ai = V::set1(a[i][k]);
#pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) acc[i][j] = V::fmadd(ai, b[j], acc[i][j]);
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) acc[i][j].store(C + static_cast<long>(i) * ldc + j * V::kWidth);
}

// Rows [0, nrows) of A against `ncols` (a multiple of 16) columns of P, each row plus
// init[0..ncols) when kInit.
// Several rows: tiles of V::kRows rows x 16 columns. One row (batch 1): as many columns
// at once as 8 registers hold, so the FMA chains are independent (latency, not bandwidth).
template <class V, bool kInit>
void tile_rows_from(const typename V::Elem* const* A, int nrows, int K, const typename V::Elem* P, int ldp,
                    int ncols, typename V::Elem* C, int ldc, const typename V::Elem* init) {
  constexpr int W = V::kWidth;
  constexpr int NB = kBlock / W;  // vectors per 16-column block
  // Rows split evenly over the fewest tiles (25 rows: 5 tiles of 5, not 4 of 6 and 1 of 1):
  // a short tile streams the panel as a full one does for less work.
  const int ntiles = (nrows + V::kRows - 1) / V::kRows;
  using T = typename V::Elem;
  auto from = [init](int c0) -> const T* { return kInit ? init + c0 : nullptr; };  // no offset on nullptr
  for (int tile = 0; tile < ntiles; ++tile) {
    const int r0 = static_cast<int>(static_cast<long>(nrows) * tile / ntiles);
    const int rows = static_cast<int>(static_cast<long>(nrows) * (tile + 1) / ntiles) - r0;
    const auto* a = A + r0;
    auto* c = C + static_cast<long>(r0) * ldc;
    if (rows == 1) {
      int c0 = 0;
      if constexpr (NB <= 2) {
        for (; c0 + 4 * kBlock <= ncols; c0 += 4 * kBlock)
          micro_tile<V, 1, 4 * NB, kInit>(a, K, P + c0, ldp, c + c0, ldc, from(c0));
      }
      if constexpr (NB <= 4) {
        for (; c0 + 2 * kBlock <= ncols; c0 += 2 * kBlock)
          micro_tile<V, 1, 2 * NB, kInit>(a, K, P + c0, ldp, c + c0, ldc, from(c0));
      }
      for (; c0 < ncols; c0 += kBlock) micro_tile<V, 1, NB, kInit>(a, K, P + c0, ldp, c + c0, ldc, from(c0));
      continue;
    }
    for (int c0 = 0; c0 < ncols; c0 += kBlock) {
      switch (rows) {
#define FUSEDRNN_TILE(R) \
  case R:                \
    if constexpr (R <= V::kRows) micro_tile<V, R, NB, kInit>(a, K, P + c0, ldp, c + c0, ldc, from(c0)); \
    break;
        FUSEDRNN_TILE(2)
        FUSEDRNN_TILE(3)
        FUSEDRNN_TILE(4)
        FUSEDRNN_TILE(5)
        FUSEDRNN_TILE(6)
#undef FUSEDRNN_TILE
      }
    }
  }
}

// C = A·P (rows of A against ncols columns of P), plus the row `init` when it is given.
template <class V>
void tile_rows(const typename V::Elem* const* A, int nrows, int K, const typename V::Elem* P, int ldp,
               int ncols, typename V::Elem* C, int ldc, const typename V::Elem* init = nullptr) {
  if (init != nullptr)
    tile_rows_from<V, true>(A, nrows, K, P, ldp, ncols, C, ldc, init);
  else
    tile_rows_from<V, false>(A, nrows, K, P, ldp, ncols, C, ldc, init);
}
