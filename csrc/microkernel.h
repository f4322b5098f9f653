// The per-step recurrent product C = A·P for a few rows of A against packed panels of
// weights, for any vector type V (vec_scalar.h, vec_avx2.h, vec_avx512.h). Include inside an
// ISA namespace.
//
// A: row pointers, each [K] (rows of h, or of the gate gradients; any batch rows)
// P: packed weights in 16-column blocks, row k of block jb at P + jb*pstride + k*ldp: one
//    panel [K][ldp] with pstride = 16 (the blocks side by side), or separate [K][16] panels
//    with ldp = 16 and pstride = K*16 (the backward's). C: [rows][ldc].
// Every output element is one accumulator summed over k = 0..K-1 in order, whatever the
// tile shape (a single row with few columns: two, micro_row): results do not depend on how
// rows or columns are blocked or threaded. (rows_panels also sums in descending order, for
// the time loop's zigzag at batches of 1 to 4, chosen by the step alone.)
// With kInit, every row's accumulators start from `init` (a bias row, [ncols]) instead of 0,
// so the tile's result needs no second pass to add it.
#pragma once

// Hidden units per block (threads own whole blocks): the unit blocks of the saved arrays' tile order.
constexpr int kBlock = static_cast<int>(kTileUnits);

// MR rows x NV vectors (NV * kWidth / 16 blocks of columns) from block P of the layout above.
template <class V, int MR, int NV, bool kInit>
inline void micro_tile(const typename V::Elem* const* A, int K, const typename V::Elem* P, int ldp, long pstride,
                       typename V::Elem* C, int ldc, const typename V::Elem* init) {
  using T = typename V::Elem;
  constexpr int NB = kBlock / V::kWidth;  // vectors per block
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
    for (int j = 0; j < NV; ++j) {
      b[j] = V::load(p + (j / NB) * pstride + (j % NB) * V::kWidth);
      // Once for all rows (as in micro_rows_panels), where the registers hold it beside the
      // accumulators: AVX-512 double 3 rows x 4 vectors 1.04x and 1.05x (LSTM B=3, both orders),
      // but AVX2 double's 3 x 4 tile (17 of 16 registers) spilled, 0.74x.
      if constexpr (MR > 1 && MR * NV + NV + 1 <= V::kRegisters) V::in_register(b[j]);
    }
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

// One row (batch 1) x NV vectors, as micro_tile<V, 1, NV> but with two accumulators per
// vector, for even and odd k, added at the end: a single row has only NV independent FMA
// chains, too few to hide the FMA latency when NV < 4. Still a fixed function of the shape.
// At batch 1, T=100 I=H=256, 2 threads (bench/ab_builds.py): AVX-512 GRU (3 vectors) 1.21x,
// RNN (1) 1.56x; AVX2 RNN 1.50x; with 4 vectors no gain (AVX-512 LSTM 1.00x, AVX2 GRU 0.96x).
// (The layers' batch-1 time loops on AVX-512 float now run several blocks at once, rows_panels.)
template <class V, int NV, bool kInit>
inline void micro_row(const typename V::Elem* a, int K, const typename V::Elem* P, int ldp, long pstride,
                      typename V::Elem* C, const typename V::Elem* init) {
  using T = typename V::Elem;
  constexpr int NB = kBlock / V::kWidth;
  V even[NV], odd[NV];
#pragma GCC unroll 16
  for (int j = 0; j < NV; ++j) {
    even[j] = kInit ? V::load(init + j * V::kWidth) : V::zero();
    odd[j] = V::zero();
  }
  auto load = [&](int k, int j) {
    return V::load(P + static_cast<long>(k) * ldp + (j / NB) * pstride + (j % NB) * V::kWidth);
  };
  int k = 0;
  for (; k + 2 <= K; k += 2) {
    const V a0 = V::set1(a[k]), a1 = V::set1(a[k + 1]);
#pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) {
      even[j] = V::fmadd(a0, load(k, j), even[j]);
      odd[j] = V::fmadd(a1, load(k + 1, j), odd[j]);
    }
  }
  if (k < K) {
    const V a0 = V::set1(a[k]);
#pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) even[j] = V::fmadd(a0, load(k, j), even[j]);
  }
#pragma GCC unroll 16
  for (int j = 0; j < NV; ++j) (even[j] + odd[j]).store(C + j * V::kWidth);
}

// R rows (batch 1 to 4) against NP unit blocks' panels at once: panel q at P + q*pstride,
// [K][ldp], its NV vectors per k; row i of C holds the blocks' columns one after another, ldp
// apart, at C + i*ldc (init: one such row). Every element is one accumulator over k in order, as
// in micro_tile: ascending, or descending where `down` (the time loop's zigzag, layer_forward.h).
// A GRU panel has three vectors per k, and one at a time (micro_row, two
// accumulators each) read a thread's 384 KB of W_hh at H=256 in about the time an LSTM thread
// reads its 512 KB. Four at once, GRU T=100 B=1 I=H=256 at 2 threads on Zen 5
// (bench/ab_builds.py, both orders): 1.08x and 1.14x; two: 0.95x against four, eight 0.80x.
// Where a panel is six vectors, two at once: AVX2 float 1.11x and 1.15x (FUSEDRNN_SIMD=avx2+fma
// on the same machine), AVX-512 double 1.15x and 1.08x. An LSTM panel (four vectors, AVX-512
// float) alone read at the L2's rate on Zen 5, but not on a 2.0 GHz Xeon (a throwaway harness:
// 54-59 GB/s one at a time, 63-73 two at once): four at once there.
template <class V, int R, int NP, int NV, bool kInit>
inline void micro_rows_panels(const typename V::Elem* const* A, int K, const typename V::Elem* P, int ldp,
                              long pstride, typename V::Elem* C, long ldc, const typename V::Elem* init, bool down) {
  using T = typename V::Elem;
  V acc[R][NP][NV];
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 16
    for (int q = 0; q < NP; ++q)
#pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) acc[i][q][j] = kInit ? V::load(init + q * ldp + j * V::kWidth) : V::zero();
  const T* a[R];
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) a[i] = A[i];
  const int k0 = down ? K - 1 : 0, dk = down ? -1 : 1;
  for (int n = 0, k = k0; n < K; ++n, k += dk) {
    V ak[R];
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) ak[i] = V::set1(a[i][k]);
#pragma GCC unroll 16
    for (int q = 0; q < NP; ++q) {
      const T* p = P + q * pstride + static_cast<long>(k) * ldp;
#pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) {
        V b = V::load(p + j * V::kWidth);
        // Loaded once for all R rows: left to itself GCC folded the load into each row's FMA, so
        // R = 2 read every panel vector twice (26 loads a k for 24 FMAs, 14 with this). LSTM T=100
        // I=H=256 frozen, 2 threads (bench/ab_builds.py, Intel Xeon): B=2 1.12x and 1.05x (swapped),
        // B=3 1.13x, B=4 1.02x; GRU B=2 1.05x, B=3 1.09x, AVX2 float B=2 1.08x; RNN(tanh) B=3 1.10x.
        if constexpr (R > 1) V::in_register(b);
#pragma GCC unroll 16
        for (int i = 0; i < R; ++i) acc[i][q][j] = V::fmadd(ak[i], b, acc[i][q][j]);
      }
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 16
    for (int q = 0; q < NP; ++q)
#pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) acc[i][q][j].store(C + i * ldc + q * ldp + j * V::kWidth);
}

// Accumulators one micro_rows_panels call keeps at most (of AVX-512's 32 registers).
constexpr int kMaxPanelAccumulators = 24;

// micro_rows_panels for nrows (1..4) rows and np (1..8) panels at once where that is at most
// kMaxPanelAccumulators (the layers' groups are sized so), else one panel at a time; plus init when
// given; k descending where `down`.
template <class V, int NV>
void rows_panels(const typename V::Elem* const* A, int nrows, int K, const typename V::Elem* P, int ldp, long pstride,
                 int np, typename V::Elem* C, long ldc, const typename V::Elem* init, bool down = false) {
  auto with_rows = [&](auto rows, auto kinit) {
    constexpr int R = decltype(rows)::value;
    constexpr bool kInit = decltype(kinit)::value;
    auto panels = [&](auto n) {
      constexpr int NP = decltype(n)::value;
      if constexpr (R * NP * NV <= kMaxPanelAccumulators) {
        micro_rows_panels<V, R, NP, NV, kInit>(A, K, P, ldp, pstride, C, ldc, init, down);
      } else {
        for (int q = 0; q < NP; ++q)
          micro_rows_panels<V, R, 1, NV, kInit>(A, K, P + q * pstride, ldp, pstride, C + q * ldp, ldc,
                                                kInit ? init + q * ldp : nullptr, down);
      }
    };
    switch (np) {
      case 8: panels(std::integral_constant<int, 8>{}); break;
      case 7: panels(std::integral_constant<int, 7>{}); break;
      case 6: panels(std::integral_constant<int, 6>{}); break;
      case 5: panels(std::integral_constant<int, 5>{}); break;
      case 4: panels(std::integral_constant<int, 4>{}); break;
      case 3: panels(std::integral_constant<int, 3>{}); break;
      case 2: panels(std::integral_constant<int, 2>{}); break;
      default: panels(std::integral_constant<int, 1>{}); break;
    }
  };
  auto run = [&](auto kinit) {
    switch (nrows) {
      case 4: with_rows(std::integral_constant<int, 4>{}, kinit); break;
      case 3: with_rows(std::integral_constant<int, 3>{}, kinit); break;
      case 2: with_rows(std::integral_constant<int, 2>{}, kinit); break;
      default: with_rows(std::integral_constant<int, 1>{}, kinit); break;
    }
  };
  if (init != nullptr)
    run(std::true_type{});
  else
    run(std::false_type{});
}

// Blocks [b0, b1) of P in steps of NV vectors, rows [0, nrows) split evenly over the fewest
// tiles of at most MR rows (25 rows in tiles of 5: 5 tiles of 5, not 4 of 6 and 1 of 1); a short
// tile streams the panel as a full one does, for less work.
template <class V, int NV, int MR, bool kInit>
void row_tiles(const typename V::Elem* const* A, int nrows, int K, const typename V::Elem* P, int ldp, long pstride,
               int b0, int b1, typename V::Elem* C, int ldc, const typename V::Elem* init) {
  static_assert(MR <= 14, "row_tiles: at most 14 rows per tile");
  using T = typename V::Elem;
  constexpr int kStep = NV * V::kWidth / kBlock;  // blocks per tile
  auto from = [init](int c) -> const T* { return kInit ? init + c : nullptr; };  // no offset on nullptr
  const int ntiles = (nrows + MR - 1) / MR;
  for (int tile = 0; tile < ntiles; ++tile) {
    const int r0 = static_cast<int>(static_cast<long>(nrows) * tile / ntiles);
    const int rows = static_cast<int>(static_cast<long>(nrows) * (tile + 1) / ntiles) - r0;
    const auto* a = A + r0;
    auto* c = C + static_cast<long>(r0) * ldc;
    for (int jb = b0; jb < b1; jb += kStep) {
      const T* p = P + jb * pstride;
      const int col = jb * kBlock;
      switch (rows) {
#define FUSEDRNN_TILE(R) \
  case R:                \
    if constexpr (R <= MR) micro_tile<V, R, NV, kInit>(a, K, p, ldp, pstride, c + col, ldc, from(col)); \
    break;
        FUSEDRNN_TILE(1)
        FUSEDRNN_TILE(2)
        FUSEDRNN_TILE(3)
        FUSEDRNN_TILE(4)
        FUSEDRNN_TILE(5)
        FUSEDRNN_TILE(6)
        FUSEDRNN_TILE(7)
        FUSEDRNN_TILE(8)
        FUSEDRNN_TILE(9)
        FUSEDRNN_TILE(10)
        FUSEDRNN_TILE(11)
        FUSEDRNN_TILE(12)
        FUSEDRNN_TILE(13)
        FUSEDRNN_TILE(14)
#undef FUSEDRNN_TILE
      }
    }
  }
}

// Rows [0, nrows) of A against `nblocks` 16-column blocks of P, each row plus
// init[0..16*nblocks) when kInit.
// Several rows: tiles of V::kRows rows x 16 columns; exactly three blocks (a GRU unit block) in
// tiles of V::kTripleRows rows x 48 columns where V has them (kTripleRows > 0); else, where V has
// wide tiles (kWideRows > 0), pairs of blocks first, in tiles of V::kWideRows rows x 32 columns:
// each broadcast of A then feeds two or three times the FMAs (AVX-512 float, one vector per
// block, on one core of a 240 GFLOP/s peak: 12x1 tiles 167 GFLOP/s, 12x2 tiles 203-223).
// One row (batch 1): up to 8 vectors at once (a whole LSTM or GRU panel where they fit), so that
// the FMA chains are independent (latency, not bandwidth); fewer than 4 vectors keep two
// accumulators each (micro_row).
template <class V, bool kInit>
void tile_blocks_from(const typename V::Elem* const* A, int nrows, int K, const typename V::Elem* P, int ldp,
                      long pstride, int nblocks, typename V::Elem* C, int ldc, const typename V::Elem* init) {
  constexpr int NB = kBlock / V::kWidth;  // vectors per 16-column block
  if (nrows == 1) {
    using T = typename V::Elem;
    int jb = 0;
    auto run = [&](auto nv) {  // blocks from jb on, kNV vectors at a time
      constexpr int kNV = decltype(nv)::value, kStep = kNV / NB;
      for (; jb + kStep <= nblocks; jb += kStep) {
        const T* from = kInit ? init + jb * kBlock : nullptr;
        if constexpr (kNV < 4)
          micro_row<V, kNV, kInit>(A[0], K, P + jb * pstride, ldp, pstride, C + jb * kBlock, from);
        else
          micro_tile<V, 1, kNV, kInit>(A, K, P + jb * pstride, ldp, pstride, C + jb * kBlock, ldc, from);
      }
    };
    if constexpr (NB == 1) {
      run(std::integral_constant<int, 4>{});  // an LSTM panel's 64 columns
      run(std::integral_constant<int, 3>{});  // a GRU panel's 48
    } else if constexpr (NB == 2) {
      run(std::integral_constant<int, 8>{});
    }
    if constexpr (NB <= 4) run(std::integral_constant<int, 2 * NB>{});
    run(std::integral_constant<int, NB>{});
    return;
  }
  int jb = 0;
  if constexpr (V::kTripleRows > 0) {
    // A GRU unit block's 48 columns as one tile of kTripleRows rows (AVX-512 float: 8 rows x 3
    // vectors, 24 accumulators), not a pair of blocks and then a single one, whose tiles spend a
    // broadcast on every FMA and read each panel row twice. AVX-512, 2 threads, both orders (bench/ab_builds.py, Intel Xeon):
    // GRU T=50 B=32 I=H=256 training forward 1.20x and 1.28x; batch 1 T=100 (the input tiles)
    // 1.05x and 1.05x, reset-before 1.10x.
    if (nblocks == 3) {
      row_tiles<V, 3 * NB, V::kTripleRows, kInit>(A, nrows, K, P, ldp, pstride, 0, 3, C, ldc, init);
      return;
    }
  }
  if constexpr (V::kWideRows > 0) {
    jb = nblocks / 2 * 2;
    row_tiles<V, 2 * NB, V::kWideRows, kInit>(A, nrows, K, P, ldp, pstride, 0, jb, C, ldc, init);
  }
  row_tiles<V, NB, V::kRows, kInit>(A, nrows, K, P, ldp, pstride, jb, nblocks, C, ldc, init);
}

// C = A·P for one panel [K][ldp] of `ncols` (a multiple of 16) columns side by side, plus the
// row `init` when it is given.
template <class V>
void tile_rows(const typename V::Elem* const* A, int nrows, int K, const typename V::Elem* P, int ldp,
               int ncols, typename V::Elem* C, int ldc, const typename V::Elem* init = nullptr) {
  if (init != nullptr)
    tile_blocks_from<V, true>(A, nrows, K, P, ldp, kBlock, ncols / kBlock, C, ldc, init);
  else
    tile_blocks_from<V, false>(A, nrows, K, P, ldp, kBlock, ncols / kBlock, C, ldc, init);
}

// C = A·P for `npanels` separate [K][16] panels, each `pstride` elements after the last
// (the backward's panels of W_hh and W_ih, and the RNN's forward ones: pstride = K*16 when they
// follow one another), plus the row `init` [16*npanels] when it is given.
template <class V>
void tile_panels(const typename V::Elem* const* A, int nrows, int K, const typename V::Elem* P, long pstride,
                 int npanels, typename V::Elem* C, int ldc, const typename V::Elem* init = nullptr) {
  if (init != nullptr)
    tile_blocks_from<V, true>(A, nrows, K, P, kBlock, pstride, npanels, C, ldc, init);
  else
    tile_blocks_from<V, false>(A, nrows, K, P, kBlock, pstride, npanels, C, ldc, init);
}
