// layer_forward<Cell, V>: one layer, one direction, all steps. Knows time; the cell knows
// one step. Include inside an ISA namespace after the cells.
//
// ONE parallel region for the whole sequence: the hidden units are split in 16-unit blocks
// (all G gates of them); per step, each block's tile of h_{t-1}·W_hhᵀ is computed fused with
// its gate math. The input projection x_t·W_ihᵀ is either a tile of the same step, next to
// the h tile (fused_input: batches of 16 or more and panels that stay in cache, where the tile
// runs as fast as a GEMM and its result never goes through memory), or computed before the loop
// for all valid (t, b) pairs, as one tile per unit block (block_input: small batches, where a
// per-step product would stream W_ih once per step, and large I + H), or, where the loop runs on
// one thread, as one GEMM (BLAS).
// Each thread packs and runs its own fixed slice of blocks (at batch 1 its weights stay in
// its cache) and helps with others' left-over blocks (BlockScheduler); one synchronisation
// per step (two for the reset-before GRU, whose n gate needs r*h of every unit), whose wait a
// member spends on its blocks' input tiles of the next step. A block is computed the same way
// by any thread: the result does not depend on the thread count.
#pragma once

// Whether the input projection is computed per step, in the time loop. A fixed function of
// the shape (the two ways round differently; never of the thread count or the machine). Not for
// the reset-before GRU, whose second phase reads the n gate's x part, which a step's tile keeps
// in one thread's buffer.
// A block's two panels, (I + H) * G * 16 elements, are streamed once per tile of rows: up to
// 192 KB the tiles win. Measured, forward at 2 threads:
// - 512 KB L2 (AMD EPYC, AVX2), LSTM T=100 I=H=256: B=32 30.4 -> 25.9 ms, B=64 53.7 -> 48.8,
//   B=16 about even, B<=8 slower (B=1 1.95 -> 2.71). Training T=50 (bench/ab_builds.py):
//   192 KB of panels (I=512 H=256) LSTM B=32 1.03x and 1.04x, GRU 1.045x, LSTM B=16 1.00x;
//   256 KB (I=H=512) slower, 0.95x at B=32 and 0.96x at B=64, and 0.66-0.74x at T=100 B=64.
// - 2 MB L2, Intel Xeon at 3.7 GHz, tiles against GEMM: LSTM I=H=512 (256 KB) B=64 training
//   1.07x-1.08x, inference 1.09x-1.11x, but B=32 0.96x and B=16 0.80x; GRU I=H=768 (288 KB)
//   B=64 0.97x; LSTM I=H=1024 (512 KB) B=64 1.00x, B=32 0.90x.
// - 2 MB L2, Intel Xeon at 2.0 GHz (a thread's 4 MB of panels come from the L3 every step),
//   tiles against block_input: LSTM T=100 B=64 I=H=512 training 0.90x and 0.89x, inference
//   0.94x and 0.89x; T=50 B=128 1.01x. So no larger panels on any machine.
// At least 4 unit blocks, so that the work still spreads over the threads.
template <class Cell, typename T>
bool fused_input(int64_t B, int64_t I, int64_t H) {
  constexpr int64_t kMaxPanelBytes = 192 * 1024;
  const int64_t panel_bytes = (I + H) * Cell::kGates * kBlock * static_cast<int64_t>(sizeof(T));
  return !Cell::kResetBefore && B >= 16 && H >= 4 * kBlock && panel_bytes <= kMaxPanelBytes;
}

// Otherwise, whether each unit block's input projection for the whole sequence is a tile of
// its own, computed before the loop by the thread that owns the block (the scheduler's first
// phase): one parallel region for the call, the x rows never packed, and the bias already in.
// Where the loop runs on one thread (tiny steps) the projection would too: there the GEMM, on
// every thread, keeps it where it outweighs the loop's own products (I > H), and on the scalar
// path. A fixed function of the shape. T=100 B=1 I=H=64, 2 threads, Intel Xeon at 2.0 GHz
// (bench/ab_builds.py), the tiles on the loop's one thread against the GEMM: LSTM 1.10x
// (training forward 1.15x), T=10 1.30x, T=1000 1.06x; GRU T=100 B=4 I=H=32 training forward
// 1.33x; RNN(tanh) 1.05x; but LSTM I=128 H=64 0.98x and 1.04x (T=1000), I=256 H=64 0.94x,
// T=1000 I=1024 H=32 0.85x.
// Against the GEMM at 2 threads (bench/ab_builds.py, 21-31 rounds, AMD EPYC AVX-512, T=100
// I=H=256), inference: LSTM B=1 1.03x/1.08x/0.99x, B=4 1.10x, B=8 1.17x, B=15 1.02x; GRU B=1
// 1.08x/0.99x/1.06x/1.09x, B=8 1.07x; LSTM training forward B=8 1.07x. From B = 16 on too, on
// an AMD EPYC with full-width AVX-512 (Zen 5), training forward: LSTM T=100 B=64 I=H=512
// 1.53x against OpenBLAS's AVX2 kernels (OPENBLAS_CORETYPE=Haswell) and 1.02x against its
// AVX-512 ones (inference 1.01x); float64 LSTM T=50 B=32 I=H=256 1.42x; on the avx2+fma path
// against OpenBLAS's Haswell kernels 0.989x. The scalar path (arm64's) keeps the GEMM there:
// OpenBLAS has vector kernels for CPUs that our scalar tiles do not use.
template <class Cell, class V>
bool block_input(int64_t T, int64_t B, int64_t I, int64_t H) {
  using E = typename V::Elem;
  return (B < 16 || V::kWidth > 1) && !fused_input<Cell, E>(B, I, H) &&
         ((V::kWidth > 1 && I <= H) ||
          loop_threads(2, B, Cell::kGates, static_cast<int>(H), H, T, kForwardMacsPerStep) == 2);
}

// The BlockScheduler's units where unit blocks go in groups (led[ub]: how many blocks block ub
// leads; 0 where another block's group holds it): one unit per group, thread q's own from the
// first group led from its slice of the blocks (split(nub, q, threads)). A block that its group's
// leader stands for then costs no claim and no count on the counters both threads write.
struct GroupUnits {
  Scratch<int> leader;  // unit u is the group that block leader[u] leads (the first count() entries)
  Scratch<int> first;   // thread q's own units begin at first[q]
  GroupUnits(const Scratch<int>& led, int threads) : leader(led.size()), first(threads) {
    const int nub = static_cast<int>(led.size());
    for (int ub = 0; ub < nub; ++ub)
      if (led[ub] > 0) leader[n_++] = ub;
    for (int q = 0; q < threads; ++q)
      first[q] = static_cast<int>(std::lower_bound(leader.begin(), leader.begin() + n_, split(nub, q, threads).begin) -
                                  leader.begin());
  }
  int count() const { return n_; }
  // Unit u's mirror image within its thread's own units: the first for the last, and so on.
  int mirrored(int u) const {
    const int parts = static_cast<int>(first.size());
    int q = 0;
    while (q + 1 < parts && u >= first[q + 1]) ++q;
    const int end = q + 1 < parts ? first[q + 1] : n_;
    return first[q] + end - 1 - u;
  }

 private:
  int n_ = 0;
};

template <class Cell, class V>
void layer_forward(const ForwardArgs<typename V::Elem>& a) {
  using T = typename V::Elem;
  constexpr int G = Cell::kGates, E = Cell::kExtra, L = kBlock, NC = G * kBlock;
  const int Tn = static_cast<int>(a.d.T), B = static_cast<int>(a.d.B), I = static_cast<int>(a.d.I),
            H = static_cast<int>(a.d.H);
  const long GH = static_cast<long>(G) * H, BH = static_cast<long>(B) * H;
  const bool train = a.gates != nullptr;
  if (B == 0) return;
  if (Tn == 0) {
    std::copy(a.h0, a.h0 + BH, a.h_n);
    if (Cell::kCellState) std::copy(a.c0, a.c0 + BH, a.c_n);
    return;
  }

  // Otherwise the input projections of the valid (t, b) pairs (ValidPairs numbering), at once.
  const ValidPairs vp(a.lengths, Tn, B);
  // One or two pairs' projections read W_ih once in BLAS, cheaper than checking a cached packing of
  // it. B=1 I=H=256, the tiles against BLAS: LSTM T=2 0.83x, T=3 1.63x, T=4 1.49x, T=8 1.07x; GRU
  // T=3 0.94x, T=4 1.46x, T=10 1.34x. Frozen weights' packings need no check: there the tiles win
  // at any length (LSTM T=1 1.58x, T=2 1.36x; GRU T=1 1.45x; reset-before GRU T=2 1.38x).
  const bool fused_x = fused_input<Cell, T>(B, I, H),
             block_x = block_input<Cell, V>(Tn, B, I, H) && (vp.n > 2 || a.frozen_id != 0);
  const bool gemm_x = !fused_x && !block_x;
  // And in one step, h_{t-1}·W_hhᵀ from BLAS too: it reads W_hh once, where checking the cache's
  // packing reads W_hh and the cache's copy, and then the packing. T=1 I=H=256, 2 threads, Intel
  // Xeon (bench/ab_builds.py): B=1 LSTM 1.87x, GRU 1.30x, I=H=512 LSTM 1.97x, I=H=64 1.12x; B=2
  // LSTM 1.70x, GRU 1.32x. AMD EPYC: B=1 LSTM 1.58x, GRU 1.59x; B=2, with gemm.cpp's gemv per
  // row, LSTM 1.78x, GRU 1.95x. Not at B=3 (LSTM 1.05x, GRU 1.00x; T=3 B=1 GRU 0.90x with the input
  // projection from BLAS too), nor the reset-before GRU's second phase.
  const bool gemm_h = Tn == 1 && gemm_x && !Cell::kResetBefore;
  WorkBuffer<T> xc(vp.all || !gemm_x ? 0 : static_cast<size_t>(vp.n) * I);
  if (!vp.all && gemm_x) vp.gather(a.lengths, Tn, B, a.x, I, xc.data());
  WorkBuffer<T> xw(gemm_x ? static_cast<size_t>(vp.n) * GH : 0);
  if (gemm_x)
    gemm(false, true, vp.n, GH, I, T(1), vp.all ? a.x : xc.data(), I, a.w_ih, I, T(0), xw.data(), GH, a.threads);
  // bx joins the x part; bh stays with the h part only where the cell needs it apart (GRU b_hn).
  // Both also per unit block, in a tile's column order (zero past H): the tiles start from them.
  const int nub = (H + L - 1) / L;
  Scratch<T> bx(GH), bx_tile(static_cast<size_t>(nub) * NC), bh_tile(static_cast<size_t>(nub) * NC);
  bool any_bh = false;
  for (int g = 0; g < G; ++g)
    for (int j = 0; j < H; ++j) {
      const long k = static_cast<long>(g) * H + j, tile = static_cast<long>(j / L) * NC + g * L + j % L;
      const bool apart = Cell::hidden_bias_apart(g);
      bx[k] = apart ? a.b_ih[k] : a.b_ih[k] + a.b_hh[k];
      bx_tile[tile] = bx[k];
      if (apart) bh_tile[tile] = a.b_hh[k];
      any_bh = any_bh || apart;
    }

  WorkBuffer<T> hw(gemm_h ? static_cast<size_t>(B) * GH : 0);
  if (gemm_h) gemm(false, true, B, GH, H, T(1), a.h0, H, a.w_hh, H, T(0), hw.data(), GH, a.threads);
  PackedW<T> pw = gemm_h ? PackedW<T>{} : get_packed(a.w_hh, G, H, H, Panels::kForward, a.frozen_id, a.threads);
  PackedW<T> pwx =
      fused_x || block_x ? get_packed(a.w_ih, G, H, I, Panels::kForward, a.frozen_id, a.threads) : PackedW<T>{};
  const T* packed = pw.data;
  const T* packed_x = pwx.data;
  // block_x: the x rows of the valid pairs, and each block's projections [nub][vp.n][NC], bx in.
  Scratch<const T*> xpairs(block_x ? vp.n : 0);
  WorkBuffer<T> xwt(block_x ? static_cast<size_t>(nub) * vp.n * NC : 0);
  if (block_x) {
    Scratch<int> rows(B);
    for (int t = 0; t < Tn; ++t) {
      const int nact = active_rows(a.lengths, B, t, rows.data());
      for (int i = 0; i < nact; ++i) xpairs[vp.off[t] + i] = a.x + (static_cast<long>(t) * B + rows[i]) * I;
    }
  }
  WorkBuffer<T> hbuf(2 * BH), cbuf(Cell::kCellState ? BH : 0), rh(Cell::kResetBefore ? BH : 0);
  WorkBuffer<T> step_gates(Cell::kResetBefore && !train ? static_cast<size_t>(nub) * B * NC : 0);
  const int threads = loop_threads(a.threads, B, G, H, fused_x ? H + I : H, Tn, kForwardMacsPerStep);
  std::copy(a.h0, a.h0 + BH, hbuf.data());
  if (Cell::kCellState) std::copy(a.c0, a.c0 + BH, cbuf.data());
  constexpr int P = Cell::kResetBefore ? 2 : 1;  // phases per step
  // Unit blocks per tile in the step's first phase, and the row stride of the tiles' results.
  // RNN: two where the ISA's tiles are wide (an even block takes the next one with it).
  // At batch 1 (rows_panels; the reset-before GRU in both its phases): on AVX-512 float up to
  // four GRU or LSTM blocks (panels of three or four vectors) and eight RNN blocks (one vector);
  // two GRU blocks where a panel is six vectors (AVX2 float, AVX-512 double); in groups from the
  // first block of each thread's slice on, so that none straddles two slices; the grouping
  // changes no result (every element is one accumulator over k). T=100 B=1 I=H=256 frozen, 2
  // threads, Intel Xeon at 2.0 GHz (bench/ab_builds.py, both orders): LSTM four blocks against
  // one 1.07x, 1.05x-1.06x against two, H=128 1.12x, H=512 1.07x; two LSTM blocks of eight
  // vectors (AVX2 float, AVX-512 double) 0.99x; RNN(tanh) eight blocks against pairs of micro_row
  // 1.05x and 1.08x, H=128 1.08x, H=512 1.09x, T=1 1.07x.
  constexpr int kPair = G == 1 && V::kWideRows > 0 ? 2 : 1;
  constexpr int kRowPanels = L == V::kWidth ? (G == 1 ? 8 : 4) : G == 3 && L == 2 * V::kWidth ? 2 : 1;
  // Batches of 2 to 4 rows (not the reset-before GRU) in groups too, of at most
  // kMaxPanelAccumulators accumulators (microkernel.h). T=100 I=H=256 frozen, 2 threads
  // (bench/ab_builds.py), LSTM B=2 1.16x and 1.19x (swapped),
  // B=3 1.15x, B=4 1.10x, training forward B=2 1.12x, T=1 B=4 1.09x; GRU B=2 1.11x, B=3 1.08x,
  // B=4 1.02x, AVX2 float B=2 1.04x, AVX-512 double 1.13x; RNN(tanh) B=2 1.11x, B=4 1.05x.
  constexpr int kVecs = (Cell::kResetBefore ? 2 * L : NC) / V::kWidth;  // a panel's vectors per k
  const bool row_groups = kRowPanels > 1 && (B == 1 || (!Cell::kResetBefore && B <= 4));
  const int group = !row_groups ? kPair
                    : B == 1    ? kRowPanels
                                : std::max(1, std::min(kRowPanels, kMaxPanelAccumulators / (B * kVecs)));
  const long ldacc = group * NC;
  // led[ub]: how many blocks block ub leads (0: it belongs to another block's group), fixed for the call.
  Scratch<int> led(nub);
  const int ranges = row_groups ? threads : 1;  // groups within each thread's slice
  for (int q = 0; q < ranges; ++q) {
    const Slice range = split(nub, q, ranges);
    for (int ub = range.begin; ub < range.end; ub += group) led[ub] = range.end - ub < group ? range.end - ub : group;
  }
  // The scheduler runs groups (GroupUnits). T=100 B=1 I=H=256 frozen, 2 threads, Zen 5
  // (bench/ab_builds.py, both orders), against every block claimed and counted: GRU 0.99x-1.05x
  // (median of nine 1.04x), LSTM 0.98x-1.02x (median of six 1.01x); the W3 shape's training
  // forward (one block a group) 0.991x and 0.995x.
  const GroupUnits units(led, threads);
  // Zigzag (the rows_panels batches): odd steps run each thread's groups in the reverse order and
  // their k descending, so that a step begins on the panel lines the step before read last, still
  // in the L1, and where a thread's panels outgrow its L2, on the half the L2 still holds. The
  // direction is a function of the step alone, never of the thread count: the same bits on any
  // team. Not for the reset-before GRU, whose second phase reads other lines of the panels between
  // two first phases. T=100 I=H=256 frozen, 2 threads, Zen 5 (bench/ab_builds.py, both orders):
  // B=1 LSTM 1.06x and 1.10x, GRU 1.08x and 1.09x, RNN(tanh) 1.11x and 1.12x; B=1 LSTM I=H=512
  // 1.24x, GRU I=H=128 1.10x and 1.13x, LSTM T=1000 I=H=64 1.19x and 1.17x; weights not frozen
  // LSTM 1.13x and 1.08x, its training forward 1.05x and 1.06x; B=2 I=H=512 LSTM 1.19x and 1.20x,
  // GRU 1.20x and 1.18x, B=4 LSTM 1.03x; where the panels fit the L2 at B=2 to 4 about even (LSTM
  // B=2 1.02x, RNN(tanh) B=2 1.03x and 1.05x, GRU B=4 0.99x). Reset-before GRU (first phases
  // only) 0.97x.
  const bool zigzag = row_groups && !Cell::kResetBefore;
  // Set up before the region, with no barrier in it: a member that starts late (woken onto a busy
  // CPU) delays no one, the others take its blocks.
  BlockScheduler sched;
  sched.reset(1 + Tn * P, units.count(), threads, units.first.data());
  // The x parts ahead (fused_x): a member done with its blocks of step s while another still
  // works on its own spends the wait on its blocks' x tiles of step s+1, which need no h. Block
  // ub's goes to xpre (B rows of ldacc, the tiles' layout), and xstate[ub] says which step's it
  // holds: -1 none (or read), -(step + 2) while being computed. Whoever runs block ub at step s
  // reads it where xstate[ub] == s, else computes its x tile as before (never waiting for one
  // still being computed); the tiles are the same either way, and so are the results. T=50 B=32
  // I=H=256, 2 threads, against the x tiles always in the step (bench/ab_builds.py, both orders,
  // twice): RNN(tanh) training forward 1.036x and 1.09x, inference 1.061x, LSTM training forward
  // 1.038x, inference 1.030x, GRU 1.045x; LSTM I=512 1.035x, T=100 B=16 I=H=128 1.066x, T=100
  // B=64 (W2's shape) inference 1.036x; batch 1 and 8 (no input tiles in the step) even.
  const long xpre_block = static_cast<long>(B) * ldacc;
  const bool ahead_always = fused_x && input_tiles_ahead_always();
  WorkBuffer<T> xpre(fused_x ? static_cast<size_t>(nub) * xpre_block : 0);
  std::unique_ptr<std::atomic<int>[]> xstate(fused_x ? new std::atomic<int>[nub] : nullptr);
  for (int ub = 0; ub < nub && fused_x; ++ub) xstate[ub].store(-1, std::memory_order_relaxed);
  const auto x_tile = [&](const T* const* xr, int nr, int ub, int nq, T* dst) {
    const size_t tb = static_cast<size_t>(ub) * NC;
    if constexpr (kPair == 2)
      tile_panels<V>(xr, nr, I, packed_x + tb * I, static_cast<long>(I) * NC, nq, dst, ldacc, bx_tile.data() + tb);
    else
      tile_rows<V>(xr, nr, I, packed_x + tb * I, NC, NC, dst, ldacc, bx_tile.data() + tb);
  };
  // Output rows [r0, r1) of step t from that step's h' (src, [B][H]), 0 where the row was frozen.
  // Written a step late as whole rows, as is training's copy of h_{t-1}, rather than each block's
  // 64-byte pieces of rows H apart: T=50 B=32 I=H=256, 2 threads (bench/ab_builds.py, both
  // orders), RNN(tanh) training forward 1.04x, inference 1.04x; LSTM, GRU and batch 1 even.
  const auto copy_output_rows = [&](const T* src, int t, int r0, int r1) {
    for (int b = r0; b < r1; ++b) {
      T* out = a.y + (static_cast<long>(t) * B + b) * H;
      if (t < a.lengths[b])
        std::copy(src + static_cast<long>(b) * H, src + static_cast<long>(b + 1) * H, out);
      else
        std::fill(out, out + H, T(0));
    }
  };

#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
  {
    const int part = sched.start();
    if (pw.fill || pwx.fill || block_x)
      sched.run(0, part, [&](int u) {
        const int lead = units.leader[u];
        for (int ub = lead; ub < lead + led[lead]; ++ub) {
          const size_t tb = static_cast<size_t>(ub) * NC;
          if (pw.fill) pw.pack_block(ub);
          if (pwx.fill) pwx.pack_block(ub);
          if (block_x)
            tile_rows<V>(xpairs.data(), static_cast<int>(vp.n), I, packed_x + tb * I, NC, NC, xwt.data() + tb * vp.n,
                         NC, bx_tile.data() + tb);
        }
      });
    Scratch<int> rows(B);
    Scratch<const T*> arows(B), xrows(fused_x ? B : 0);
    Scratch<T> acc(static_cast<size_t>(B) * ldacc), accx(fused_x ? static_cast<size_t>(B) * ldacc : 0);
    Scratch<int> next_rows(fused_x ? B : 0);
    Scratch<const T*> next_xrows(fused_x ? B : 0);
    int next_step = -1, next_nact = 0, fill_from = 0;
    const Slice own = split(nub, part, threads);
    // One of this member's blocks' x parts of step s+1, if one is left to do: whether it did one.
    const auto fill_ahead = [&](int s) -> bool {
      if (!fused_x || s + 1 >= Tn) return false;
      const int sn = s + 1;
      if (next_step != sn) {
        const int tn = a.reverse ? Tn - 1 - sn : sn;
        next_nact = active_rows(a.lengths, B, tn, next_rows.data());
        for (int i = 0; i < next_nact; ++i) next_xrows[i] = a.x + (static_cast<long>(tn) * B + next_rows[i]) * I;
        next_step = sn;
        fill_from = own.begin;
      }
      for (; fill_from < own.end; ++fill_from) {
        const int ub = fill_from;
        if (led[ub] == 0) continue;
        int st = xstate[ub].load(std::memory_order_acquire);
        if (st < -1 || st >= s) continue;  // being computed, or not yet read
        if (!xstate[ub].compare_exchange_strong(st, -sn - 2, std::memory_order_acq_rel)) continue;
        if (next_nact > 0) x_tile(next_xrows.data(), next_nact, ub, led[ub], xpre.data() + ub * xpre_block);
        xstate[ub].store(sn, std::memory_order_release);
        ++fill_from;
        return true;
      }
      return false;
    };
    alignas(32) T ax[NC], hl[L], cl[L], gl[NC], ho[L], co[L], ex[E > 0 ? E * L : 1];

    for (int s = 0; s < Tn; ++s) {
      const int t = a.reverse ? Tn - 1 - s : s, tprev = a.reverse ? t + 1 : t - 1;
      const T* hp = hbuf.data() + (s & 1) * BH;
      T* hn = hbuf.data() + ((s + 1) & 1) * BH;
      const long tb0 = static_cast<long>(t) * B, v0 = vp.off[t];
      // This step's gates in tile order: the tape's, or (reset-before GRU inferring) scratch.
      T* gstep = train ? a.gates + tile_offset(t, 0, 0, nub, B, G) : step_gates.data();
      const int nact = active_rows(a.lengths, B, t, rows.data());
      for (int i = 0; i < nact; ++i) arows[i] = hp + static_cast<long>(rows[i]) * H;
      if (fused_x)
        for (int i = 0; i < nact; ++i) xrows[i] = a.x + (tb0 + rows[i]) * I;

      // At batches of 1 to 4, every line of h_{t-1} at once: the product would otherwise take the
      // lines the other members wrote one at a time, as its k loop reaches them, each a transfer
      // between cores. T=100 frozen, 2 threads, Zen 5 (bench/ab_builds.py, both orders), in the
      // machine's state where a line takes 180-210 ns one way between its two CPUs
      // (bench/core_latency.c): I=H=256 B=1 LSTM 1.07-1.10x, GRU 1.05-1.09x, RNN(tanh) 1.21-1.24x,
      // B=2 LSTM 1.06-1.07x, B=4 LSTM and GRU 1.05x; I=H=128 B=1 LSTM 1.15-1.18x; I=H=512 LSTM 1.04x.
      // Where it takes 40-90 ns: I=H=256 0.98-1.01x, I=H=128 0.96-1.03x. For more rows (W3's
      // shape, LSTM T=1000 B=16 I=H=128) about even or slower, and the backward's gate-gradient rows
      // the same way slower at B=32 (0.97-0.98x): not there.
      if (row_groups) prefetch_rows(arows.data(), nact, H);
      const bool down = zigzag && (s & 1) != 0;
      sched.run(1 + s * P, part, [&](int u) {
        // The group's leader does the group's work (their panels follow one another).
        const int ub = units.leader[down ? units.mirrored(u) : u], nq = led[ub];
        for (int q = ub; q < ub + nq; ++q) {
          const int j0 = q * L, n = H - j0 < L ? H - j0 : L;
          // Frozen rows keep their state.
          for (int b = 0, i = 0; b < B; ++b) {
            const long o = static_cast<long>(b) * H + j0;
            if (i < nact && rows[i] == b) {
              ++i;
              continue;
            }
            std::copy(hp + o, hp + o + n, hn + o);
            if (Cell::kResetBefore && train) std::fill(a.extra + tb0 * H + o, a.extra + tb0 * H + o + n, T(0));
          }
          // Whole rows of h_{t-1}, block q's share of them: training's copy, and the previous
          // step's output (0 where that row was frozen).
          const int r0 = static_cast<int>(static_cast<long>(q) * B / nub),
                    r1 = static_cast<int>(static_cast<long>(q + 1) * B / nub);
          if (train)
            std::copy(hp + static_cast<long>(r0) * H, hp + static_cast<long>(r1) * H, a.hprev + (tb0 + r0) * H);
          if (s > 0) copy_output_rows(hp, tprev, r0, r1);
        }
        // Reset-before GRU, phase 1: only the r, z columns now; n needs r*h of all units.
        // The h part with bh in, the x part (fused_x) with bx in: the cell reads the tiles' rows.
        const size_t tb = static_cast<size_t>(ub) * NC;
        const T* panel = gemm_h ? nullptr : packed + tb * H;
        const T* bh_init = any_bh ? bh_tile.data() + tb : nullptr;
        if (gemm_h) {  // the GEMM's rows (gates H apart), bh in, in the tiles' layout
          for (int q = ub; q < ub + nq; ++q) {
            const int j0 = q * L, n = H - j0 < L ? H - j0 : L;
            for (int i = 0; i < nact; ++i)
              for (int g = 0; g < G; ++g)
                sum_lanes<V>(acc.data() + i * ldacc + (q - ub) * NC + g * L, hw.data() + rows[i] * GH + g * H + j0,
                             bh_tile.data() + static_cast<size_t>(q) * NC + g * L, n);
          }
        } else if (row_groups) {  // at most 4 rows (their x part from block_x or the GEMM)
          if constexpr (kRowPanels > 1) {
            if (nact > 0)
              rows_panels<V, kVecs>(arows.data(), nact, H, panel, NC, static_cast<long>(H) * NC, nq, acc.data(), ldacc,
                                    bh_init, down);
          }
        } else if constexpr (kPair == 2) {
          tile_panels<V>(arows.data(), nact, H, panel, static_cast<long>(H) * NC, nq, acc.data(), ldacc, bh_init);
        } else {
          tile_rows<V>(arows.data(), nact, H, panel, NC, Cell::kResetBefore ? 2 * L : NC, acc.data(), ldacc, bh_init);
        }
        // The x part (fused_x): computed ahead, else here.
        const T* xacc = accx.data();
        bool read_ahead = false;
        if (fused_x) {
          int st = xstate[ub].load(std::memory_order_acquire);
          if (st == s) {
            xacc = xpre.data() + ub * xpre_block;
            read_ahead = true;
          } else {
            x_tile(xrows.data(), nact, ub, nq, accx.data());
            // One finished after its step had begun without it: xpre[ub] is free again.
            if (st >= 0 && st < s) xstate[ub].compare_exchange_strong(st, -1, std::memory_order_acq_rel);
          }
        }
        for (int q = ub; q < ub + nq; ++q) {
          const int j0 = q * L, n = H - j0 < L ? H - j0 : L;
          const long col = static_cast<long>(q - ub) * NC;  // block q's columns in the tiles' rows
          for (int i = 0; i < nact; ++i) {
            const long row = tb0 + rows[i];
            const T* ahr = acc.data() + i * ldacc + col;
            // The x part: this row of the step's tile, or of the GEMM's result (gates H apart) plus bx.
            const T* axr = ax;
            if (fused_x)
              axr = xacc + i * ldacc + col;
            else if (block_x)
              axr = xwt.data() + (static_cast<long>(q) * vp.n + v0 + i) * NC;
            else
              for (int g = 0; g < G; ++g)
                sum_lanes<V>(ax + g * L, xw.data() + (v0 + i) * GH + g * H + j0, bx.data() + g * H + j0, n);
            if (Cell::kReadsH) load_lanes<V>(hl, hp + static_cast<long>(rows[i]) * H + j0, n);
            // The cell writes the saved gates and extras in place (tile order, all 16 lanes).
            T* grow = train || Cell::kResetBefore ? gstep + (static_cast<long>(q) * B + rows[i]) * NC : gl;
            if constexpr (Cell::kResetBefore) {
              Cell::template forward_rz<V>(axr, ahr, hl, grow, ho);  // ho holds r*h here
              store_lanes<V>(rh.data() + static_cast<long>(rows[i]) * H + j0, ho, n);
              if (train) store_lanes<V>(a.extra + row * H + j0, ho, n);
            } else {
              if (Cell::kCellState) load_lanes<V>(cl, cbuf.data() + static_cast<long>(rows[i]) * H + j0, n);
              T* erow = train && E > 0 ? a.extra + tile_offset(t, q, rows[i], nub, B, E) : ex;
              Cell::template forward<V>(axr, ahr, hl, cl, grow, ho, co, erow);
              store_lanes<V>(hn + static_cast<long>(rows[i]) * H + j0, ho, n);
              if (Cell::kCellState) store_lanes<V>(cbuf.data() + static_cast<long>(rows[i]) * H + j0, co, n);
            }
          }
        }
        if (read_ahead) xstate[ub].store(-1, std::memory_order_release);  // xpre[ub] free for step s+1
      }, [&] { return fill_ahead(s); });
      if (ahead_always)  // the tests' hook (kernels.h): ahead after every step, waited or not
        while (fill_ahead(s)) {
        }
      if constexpr (Cell::kResetBefore) {
        // Phase 2 (r*h of every unit is ready): n from (r*h)·W_hnᵀ, then h'.
        for (int i = 0; i < nact; ++i) arows[i] = rh.data() + static_cast<long>(rows[i]) * H;
        if (row_groups) prefetch_rows(arows.data(), nact, H);  // as h_{t-1}'s above
        sched.run(2 + s * P, part, [&](int u) {
          const int ub = units.leader[u], nq = led[ub];
          const T* panel = packed + static_cast<size_t>(ub) * H * NC;
          if (group == 1) {
            tile_rows<V>(arows.data(), nact, H, panel + 2 * L, NC, L, acc.data(), NC);
          } else if constexpr (kRowPanels > 1) {
            if (nact == 1)
              rows_panels<V, L / V::kWidth>(arows.data(), 1, H, panel + 2 * L, NC, static_cast<long>(H) * NC, nq,
                                            acc.data(), ldacc, nullptr);
          }
          for (int q = ub; q < ub + nq; ++q) {
            const int j0 = q * L, n = H - j0 < L ? H - j0 : L;
            // Row i of block q: acc's row i (groups of one block), or its block q - ub (one row).
            for (int i = 0; i < nact; ++i) {
              T* grow = gstep + (static_cast<long>(q) * B + rows[i]) * NC;  // z in, n out
              const T* axr = ax;
              if (block_x)
                axr = xwt.data() + (static_cast<long>(q) * vp.n + v0 + i) * NC;
              else
                sum_lanes<V>(ax + 2 * L, xw.data() + (v0 + i) * GH + 2 * H + j0, bx.data() + 2 * H + j0, n);
              load_lanes<V>(hl, hp + static_cast<long>(rows[i]) * H + j0, n);
              Cell::template forward_n<V>(axr, acc.data() + (static_cast<long>(i) + q - ub) * NC, hl, grow, ho);
              store_lanes<V>(hn + static_cast<long>(rows[i]) * H + j0, ho, n);
            }
          }
        });
      }
    }
    sched.finish();
  }
  copy_output_rows(hbuf.data() + (Tn & 1) * BH, a.reverse ? 0 : Tn - 1, 0, B);
  std::copy(hbuf.data() + (Tn & 1) * BH, hbuf.data() + (Tn & 1) * BH + BH, a.h_n);
  if (Cell::kCellState) std::copy(cbuf.data(), cbuf.data() + BH, a.c_n);
  if (pw.fresh) store_packed(std::move(pw.fresh));
  if (pwx.fresh) store_packed(std::move(pwx.fresh));
}
