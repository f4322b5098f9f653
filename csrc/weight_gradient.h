// weight_gradient<V>: the weight gradients C = Aᵀ·B on our own tiles, not BLAS. Include inside
// an ISA namespace after microkernel.h.
//
// A is the gate gradients, [K][lda] (one row per valid (t, b) pair, M gate units used), and each
// operand B is x or h_{t-1}, [K][ldb] (n columns used): both are k-major, so each is packed by
// copying contiguous pieces of rows, with no transpose (the form BLAS's "tn" product packs the
// hard way). Several operands share one packing of A (LSTM: dW_ih and dW_hh from the same dG).
// Why not BLAS: OpenBLAS picks its kernels by its own CPU detection or OPENBLAS_CORETYPE, and
// with its AVX2 kernels on an AVX-512 CPU (OPENBLAS_CORETYPE=Haswell, as set on this project's
// benchmark machines) these products ran at 0.42 of the FMA peak, against 0.77 with its
// AVX-512 ones; our tiles run them on the ISA the rest of the call uses (bench/RESULTS.md). The
// scalar path still calls BLAS (below).
//
// Every element of C is one accumulator over k = 0..K-1 in order (k-blocks continue from the
// stored partial sum), whichever thread computes its tile: the same bits for any thread count.
// Fused into the products: clip_value's clamp and the squared norm for max_norm, each tile's
// on their way out of its last k-block, not in a pass of their own over C.
#pragma once

// Rows [0, rows) x columns [0, cols) of C (ldc apart) clamped to ±clip (clip > 0), returning
// their sum of squares in double (eight partial sums, by column, added in a fixed order). For
// what the vector tiles leave: their edges, the scalar path's products, the biases.
template <typename T>
double clamp_sqnorm_rows(T* c, long ldc, long rows, int cols, T clip) {
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (long i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) {
      T& v = c[i * ldc + j];
      if (clip > 0) v = v > clip ? clip : (v < -clip ? -clip : v);
      s[j % 8] += static_cast<double>(v) * static_cast<double>(v);
    }
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

template <typename T>
struct GradOperand {
  const T* b;  // [K][ldb], columns [0, n) used
  long ldb;
  int n;
  T* c;  // [M][ldc], columns [0, n) written
  long ldc;
};

// Tile shape: the widest the ISA's registers hold (AVX-512 float: 12 rows x 32 columns).
template <class V>
struct GradTile {
  static constexpr int kNB = kBlock / V::kWidth;  // vectors per 16-column block
  static constexpr int kRows = V::kWideRows > 0 ? V::kWideRows : V::kRows;
  static constexpr int kVecs = (V::kWideRows > 0 ? 2 : 1) * kNB;
  static constexpr int kCols = kVecs * V::kWidth;
  // k per block, at most: C is read and written once per block, and a B strip (at most 96 KB)
  // stays in L2 for the chunk's tiles. W3's products at 2 threads, per block of 256 / 384 / 800 (K = 1600
  // in 2 blocks): 4.46-5.09 / 4.34-4.82 / 4.25-4.92 ms (6 runs each, alternating).
  static constexpr long kMaxDepth = 768;
};

// dst[0..N) = src[0..n), then zeros: a fixed-size copy where n == N (a call to memmove per
// 12-float piece took an eighth of the product's time).
template <int N, typename T>
inline void copy_padded(const T* src, int n, T* dst) {
  if (n == N) {
    std::memcpy(dst, src, N * sizeof(T));  // a constant size: inline vector moves
  } else {
    for (int i = 0; i < N; ++i) dst[i] = i < n ? src[i] : T(0);
  }
}

// One tile of C (rows x kCols, ldc apart) += or = Aᵀ·B over kc k, from packed A (kc x kRows)
// and packed B (kc x kCols). kFinal (C's last k-block): the results clamped to ±clip (clip > 0)
// on their way out, and their sum of squares returned (each lane's in T, the lanes' in double;
// all in double where T's overflowed).
template <class V, bool kAdd, bool kFinal = false>
inline double grad_tile(const typename V::Elem* ap, const typename V::Elem* bp, long kc, typename V::Elem* c,
                        long ldc, typename V::Elem clip = 0) {
  using Tile = GradTile<V>;
  constexpr int MR = Tile::kRows, NV = Tile::kVecs, NR = Tile::kCols;
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) acc[i][j] = kAdd ? V::load(c + i * ldc + j * V::kWidth) : V::zero();
  for (long k = 0; k < kc; ++k) {
    V b[NV];
#pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) b[j] = V::load(bp + k * NR + j * V::kWidth);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const V ai = V::set1(ap[k * MR + i]);
#pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) acc[i][j] = V::fmadd(ai, b[j], acc[i][j]);
    }
  }
  V sq[NV];
#pragma GCC unroll 16
  for (int j = 0; j < NV; ++j) sq[j] = V::zero();
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) {
      if constexpr (kFinal) {
        if (clip > 0) acc[i][j] = V::clamp(acc[i][j], clip);
        sq[j] = V::fmadd(acc[i][j], acc[i][j], sq[j]);
      }
      acc[i][j].store(c + i * ldc + j * V::kWidth);
    }
  if constexpr (!kFinal) return 0.0;
  alignas(64) typename V::Elem lanes[NV * V::kWidth];
#pragma GCC unroll 16
  for (int j = 0; j < NV; ++j) sq[j].store(lanes + j * V::kWidth);
  double total = 0.0;
  for (int l = 0; l < NV * V::kWidth; ++l) total += lanes[l];
  // A lane's squares past T's range (float gradients beyond about 1e19): the tile again in double.
  if (std::isinf(total)) total = clamp_sqnorm_rows(c, ldc, MR, NR, clip);
  return total;
}

// As grad_tile, for a tile cut by C's edge (rows x cols of it): through a full tile on the stack.
template <class V>
void grad_edge_tile(const typename V::Elem* ap, const typename V::Elem* bp, long kc, bool add,
                    typename V::Elem* c, long ldc, int rows, int cols) {
  using T = typename V::Elem;
  using Tile = GradTile<V>;
  alignas(64) T tmp[Tile::kRows * Tile::kCols];
  for (int i = 0; i < Tile::kRows; ++i)
    for (int j = 0; j < Tile::kCols; ++j) tmp[i * Tile::kCols + j] = add && i < rows && j < cols ? c[i * ldc + j] : T(0);
  if (add)
    grad_tile<V, true>(ap, bp, kc, tmp, Tile::kCols);
  else
    grad_tile<V, false>(ap, bp, kc, tmp, Tile::kCols);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) c[i * ldc + j] = tmp[i * Tile::kCols + j];
}

// C = Aᵀ·B for every operand (C fully written; K = 0 gives zeros), clamped to ±clip (clip > 0);
// returns the sum of squares of every C. Runs its own team of `threads`: B packed once by all of
// them, then each thread takes chunks of C's rows, packing its chunk of A one k-block at a time.
template <class V>
double weight_gradient(const typename V::Elem* A, long lda, int M, long K, const GradOperand<typename V::Elem>* ops,
                       int nops, typename V::Elem clip, int threads) {
  using T = typename V::Elem;
  using Tile = GradTile<V>;
  constexpr int MR = Tile::kRows, NR = Tile::kCols;
  if (M <= 0) return 0.0;
  if (V::kWidth == 1 || K == 0) {
    // The scalar path (arm64's) keeps BLAS, which has vector kernels where our scalar tiles have
    // none; its clamp and norm follow the product (rows in order, the same bits for any threads).
    double total = 0.0;
    for (int o = 0; o < nops; ++o) {
      const GradOperand<T>& op = ops[o];
      if (K == 0)
        for (int i = 0; i < M; ++i) std::fill(op.c + i * op.ldc, op.c + i * op.ldc + op.n, T(0));
      else
        gemm(true, false, M, op.n, K, T(1), A, lda, op.b, op.ldb, T(0), op.c, op.ldc, threads);
      total += clamp_sqnorm_rows(op.c, op.ldc, M, op.n, clip);
    }
    return total;
  }
  // K in blocks of equal depth (1600 as 2 x 800, not 768 + 768 + 64): a function of K only.
  const long nkb = (K + Tile::kMaxDepth - 1) / Tile::kMaxDepth, KC = (K + nkb - 1) / nkb;
  // Column tiles over all operands: (operand, first column).
  std::vector<std::pair<int, int>> ntiles;
  for (int o = 0; o < nops; ++o)
    for (int j = 0; j < ops[o].n; j += NR) ntiles.emplace_back(o, j);
  const long nnt = static_cast<long>(ntiles.size());
  const int mtiles = (M + MR - 1) / MR;
  // Chunks of row tiles: an A block of at most about 384 KB (KC deep) stays in L2; at least
  // one chunk per thread, and as many per thread, so that the team ends together.
  const int max_chunk_tiles = std::max(1, static_cast<int>(384 * 1024 / (KC * MR * static_cast<long>(sizeof(T)))));
  const int team0 = threads < 1 ? 1 : threads;
  int nchunks = (mtiles + max_chunk_tiles - 1) / max_chunk_tiles;
  nchunks = (nchunks + team0 - 1) / team0 * team0;
  if (nchunks > mtiles) nchunks = mtiles;
  const int team = team0 < nchunks ? team0 : nchunks;
  const bool serial = team <= 1 || static_cast<long>(M) * K * nnt * NR < (1L << 21);

  WorkBuffer<T> bpack(static_cast<size_t>(nnt) * K * NR);
  // Every member's A block, taken from the pool here: taken in the region, the members' calls
  // met on the pool's mutex, and the one put to sleep there woke 50-150 us later (perf's
  // sched_switch: in one W3 backward in three to eight).
  const size_t apack_size = static_cast<size_t>((mtiles + nchunks - 1) / nchunks) * KC * MR;
  WorkBuffer<T> apacks(static_cast<size_t>(serial ? 1 : team) * apack_size);
  Scratch<double> tile_sq(static_cast<size_t>(nnt) * mtiles);  // each tile's squares, added in order
#ifdef _OPENMP
#pragma omp parallel num_threads(serial ? 1 : team)
#endif
  {
    // B in strips of NR columns, k-major: strip s holds rows k at bpack + (s*K + k)*NR.
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
    for (long s = 0; s < nnt; ++s) {
      const GradOperand<T>& op = ops[ntiles[s].first];
      const int j0 = ntiles[s].second, w = op.n - j0 < NR ? op.n - j0 : NR;
      T* dst = bpack.data() + s * K * NR;
      for (long k = 0; k < K; ++k) copy_padded<NR>(op.b + k * op.ldb + j0, w, dst + k * NR);
    }  // (the loop's implicit barrier: every strip is packed before any tile reads one)
    T* const apack = apacks.data() + thread_id() * apack_size;
#ifdef _OPENMP
#pragma omp for schedule(dynamic)
#endif
    for (int chunk = 0; chunk < nchunks; ++chunk) {
      const int t0 = static_cast<int>(static_cast<long>(mtiles) * chunk / nchunks);
      const int t1 = static_cast<int>(static_cast<long>(mtiles) * (chunk + 1) / nchunks);
      for (long k0 = 0; k0 < K; k0 += KC) {
        const long kc = K - k0 < KC ? K - k0 : KC;
        // A's rows k0..k0+kc, units of tiles t0..t1, as [tile][k][MR] (zeros past M), read row by
        // row: tile by tile, 48 bytes from each row 4 KB apart, the reads outran the prefetchers.
        for (long k = 0; k < kc; ++k) {
          const T* row = A + (k0 + k) * lda;
          for (int t = t0; t < t1; ++t) {
            const int m0 = t * MR, h = M - m0 < MR ? M - m0 : MR;
            copy_padded<MR>(row + m0, h, apack + (static_cast<long>(t - t0) * kc + k) * MR);
          }
        }
        const bool add = k0 > 0, last = k0 + kc >= K;
        for (long s = 0; s < nnt; ++s) {
          const GradOperand<T>& op = ops[ntiles[s].first];
          const int j0 = ntiles[s].second, w = op.n - j0 < NR ? op.n - j0 : NR;
          const T* bp = bpack.data() + (s * K + k0) * NR;
          for (int t = t0; t < t1; ++t) {
            const int m0 = t * MR, h = M - m0 < MR ? M - m0 : MR;
            const T* ap = apack + static_cast<long>(t - t0) * kc * MR;
            T* c = op.c + m0 * op.ldc + j0;
            double& sq = tile_sq[s * mtiles + t];
            if (h < MR || w < NR) {
              grad_edge_tile<V>(ap, bp, kc, add, c, op.ldc, h, w);
              if (last) sq = clamp_sqnorm_rows(c, op.ldc, h, w, clip);
            } else if (last) {
              sq = add ? grad_tile<V, true, true>(ap, bp, kc, c, op.ldc, clip)
                       : grad_tile<V, false, true>(ap, bp, kc, c, op.ldc, clip);
            } else if (add) {
              grad_tile<V, true>(ap, bp, kc, c, op.ldc);
            } else {
              grad_tile<V, false>(ap, bp, kc, c, op.ldc);
            }
          }
        }
      }
    }
  }
  double total = 0.0;
  for (double q : tile_sq) total += q;
  return total;
}
