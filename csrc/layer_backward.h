// layer_backward<Cell, V>: backpropagation through time for one layer and direction.
// Knows time; the cell knows one step. Include inside an ISA namespace after the cells.
//
// One parallel region for the whole reversed sequence over 16-unit blocks (BlockScheduler:
// own slice first, then left-over blocks of others). Per step: the gate gradients of a
// block's units (clip_gate clamp inside the cell), the bias gradients summed as they are
// produced; then, once every block's are ready, the block's columns of dh_{t-1} = dG·W_hh
// (W_hh packed once per call), followed at once by the same block's gate gradients of the
// next step, which need no other block's. After the loop, over the valid (t, b) pairs: dx (on
// the tiles where tiled_input_gradient, else BLAS) and the weight gradients
// (weight_gradient.h), whose tiles apply clip_value and add up the squared norm as they store
// their results.
#pragma once

// Whether dx = dG · W_ih runs on the tiles (input_gradient) rather than BLAS: a function of the
// shape and the ISA only. Backward at 2 threads, tiles against BLAS (bench/ab_builds.py, median
// of per-round ratios): LSTM T=50 B=32 H=256 (G*H = 1024) 1.07-1.08x, with I=512 1.19x; LSTM T=100 B=64
// I=H=512 (2048) 0.98-1.01x; GRU H=256 (768) 0.98-1.00x; LSTM T=1000 B=16 H=128 (512)
// 0.97-0.99x; RNN H=256 (256) 0.97-0.98x. With AVX-512 (Zen 5, 2 full-width FMA units) the tiles
// win at every size: against OpenBLAS's AVX2 kernels (OPENBLAS_CORETYPE=Haswell) GRU H=256
// 1.20x, RNN 1.20x, LSTM T=1000 B=16 H=128 1.20x; against its AVX-512 ones 1.02x, 1.05x, 1.03x.
template <class V>
bool tiled_input_gradient(int G, int H) {
  return V::kWideRows > 0 || static_cast<long>(G) * H >= 1024;
}

// dx = dG · W_ih: rows [NV][G*H] of the gate gradients (ldg apart) against W_ih's backward
// panels (packed once and cached like W_hh's), in chunks of rows that stay in cache across the
// panels. Each element is one tile accumulator over G*H in order: the same bits for any thread count.
template <class V>
void input_gradient(const typename V::Elem* dg, long ldg, long rows, int G, int H, int I,
                    const typename V::Elem* w_ih, typename V::Elem* dx, int threads) {
  using T = typename V::Elem;
  constexpr long kMaxChunk = 96;
  const long GH = static_cast<long>(G) * H;
  // Rows per chunk: about 384 KB of them (at most 96), a multiple of the tile's rows, so that they
  // stay in the L2 next to a panel while every panel streams past; each chunk streams all of
  // W_ih's panels once. Against 192 KB (bench/ab_builds.py, backward at 2 threads, Intel Xeon
  // with 2 MB L2): LSTM T=50 B=32 I=H=256 (48 -> 96 rows) 1.03x, 1.04x, 1.05x; GRU (60 -> 96)
  // 1.00x; LSTM T=100 B=64 I=H=512 (24 -> 48) 0.94x, 1.01x, 0.98x.
  long chunk = 384 * 1024 / (GH * static_cast<long>(sizeof(T))) / V::kRows * V::kRows;
  chunk = chunk < V::kRows ? V::kRows : (chunk > kMaxChunk ? kMaxChunk : chunk);
  // As many chunks for every thread, of equal rows (row_tiles splits any count evenly): W3's
  // 1600 rows made 16 chunks of 96 and one of 64, and one thread took a chunk more. Backward at
  // 2 threads, Zen 5 (bench/ab_builds.py, both orders, twice): LSTM T=50 B=32 I=H=256 1.014x,
  // 1.009x, 1.018x, 1.021x; GRU 1.005x, 1.014x; T=100 B=64 I=H=512 (134 chunks before too) 0.998x, 0.991x.
  long nchunks = (rows + chunk - 1) / chunk;
  const int team = static_cast<int>(std::max(1L, std::min<long>(threads, nchunks)));
  nchunks = (nchunks + team - 1) / team * team;
  const int ncb = (I + kBlock - 1) / kBlock, nfull = I / kBlock;
  PackedW<T> pw = get_packed(w_ih, G, H, I, Panels::kBackward, 0, team);
#ifdef _OPENMP
#pragma omp parallel num_threads(team)
#endif
  {
    if (pw.fill) {
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
      for (int cb = 0; cb < ncb; ++cb) pw.pack_block(cb);
    }
    Scratch<const T*> arows(chunk);
    alignas(32) T tail[kMaxChunk * kBlock];  // the last column block when I is not a multiple of 16
#ifdef _OPENMP
#pragma omp for schedule(dynamic)
#endif
    for (long c = 0; c < nchunks; ++c) {
      const long r0 = rows * c / nchunks;
      const int nr = static_cast<int>(rows * (c + 1) / nchunks - r0);
      for (int i = 0; i < nr; ++i) arows[i] = dg + (r0 + i) * ldg;
      // Full column blocks a pair at a time (wide tiles, where the ISA has them), then the tail.
      for (int cb = 0; cb < nfull; cb += 2) {
        const int np = nfull - cb < 2 ? 1 : 2;
        tile_panels<V>(arows.data(), nr, static_cast<int>(GH), pw.data + cb * GH * kBlock, GH * kBlock, np,
                       dx + r0 * I + cb * kBlock, I);
      }
      if (nfull < ncb) {
        const int c0 = nfull * kBlock, n = I - c0;
        tile_panels<V>(arows.data(), nr, static_cast<int>(GH), pw.data + nfull * GH * kBlock, GH * kBlock, 1, tail,
                       kBlock);
        for (int i = 0; i < nr; ++i) std::copy(tail + i * kBlock, tail + i * kBlock + n, dx + (r0 + i) * I + c0);
      }
    }
  }
  if (pw.fresh) store_packed(std::move(pw.fresh));
}

// Row stride of the gate-gradient rows: G*H, one cache line more where G*H*sizeof(T) is a
// multiple of 4 KB (LSTM H = 256, 512). The tiles read a dozen rows at once, and rows 4 KB
// apart all fall in one set of the L1 (64 sets of 64 bytes), more rows than it has ways.
// Backward at 2 threads, padded against not (bench/ab_builds.py, AMD EPYC with AVX-512): LSTM
// T=50 B=32 H=256 1.087x, 1.033x; T=100 B=64 H=512 1.058x. Strides of 1-3 KB, which spread
// over 2-4 sets, gained nothing: GRU H=256 (3 KB) 0.97x and 0.95x, RNN H=256 1.01x, LSTM
// H=128 1.02x.
template <typename T>
long gate_grad_stride(long GH) {
  constexpr long kLine = 64 / static_cast<long>(sizeof(T));
  return GH * static_cast<long>(sizeof(T)) % 4096 == 0 ? GH + kLine : GH;
}

template <class Cell, class V>
void layer_backward(const BackwardArgs<typename V::Elem>& a) {
  using T = typename V::Elem;
  constexpr int G = Cell::kGates, E = Cell::kExtra, L = kBlock;
  // The linear-before-reset GRU's h part of da_n is r * da_n: it needs its own array.
  constexpr bool kSplitH = !Cell::kResetBefore && G == 3;
  const int Tn = static_cast<int>(a.d.T), B = static_cast<int>(a.d.B), I = static_cast<int>(a.d.I),
            H = static_cast<int>(a.d.H);
  const long GH = static_cast<long>(G) * H, BH = static_cast<long>(B) * H, TB = a.d.tb();

  std::copy(a.dh_n, a.dh_n + BH, a.dh0);  // dh0 / dc0 carry dh, dc through the loop
  if (Cell::kCellState) std::copy(a.dc_n, a.dc_n + BH, a.dc0);
  if (Tn == 0 || B == 0) {
    if (a.dx != nullptr) std::fill(a.dx, a.dx + TB * I, T(0));
    std::fill(a.dw_ih, a.dw_ih + GH * I, T(0));
    std::fill(a.dw_hh, a.dw_hh + GH * H, T(0));
    std::fill(a.db_ih, a.db_ih + GH, T(0));
    std::fill(a.db_hh, a.db_hh + GH, T(0));
    *a.sqnorm = 0.0;
    return;
  }
  // Gate gradients of the valid (t, b) pairs only (ValidPairs numbering): frozen rows have none,
  // and the dx and weight-gradient products then skip them.
  const ValidPairs vp(a.lengths, Tn, B);
  const long NV = vp.n;
  const long ldg = gate_grad_stride<T>(GH);
  WorkBuffer<T> dgx(static_cast<size_t>(NV) * ldg), dgh_own(kSplitH ? static_cast<size_t>(NV) * ldg : 0);
  T* dgh = kSplitH ? dgh_own.data() : dgx.data();
  Scratch<double> dbx(GH), dbh(kSplitH ? GH : 0);
  const int nub = (H + L - 1) / L;
  PackedW<T> pw = get_packed(a.w_hh, G, H, H, Panels::kBackward, 0, a.threads);
  const T* packed = pw.data;
  const int threads = loop_threads(a.threads, B, G, H, H, Tn, kBackwardMacsPerStep);
  T* D = a.dh0;
  T* C = a.dc0;
  // A block's columns of dh_{t-1} are all that its gate gradients of step t-1 need: the two run
  // in one phase, block by block, so a step has one synchronisation (the reset-before GRU two:
  // its r path needs da_n of every unit).
  constexpr int P = Cell::kResetBefore ? 2 : 1;  // phases per step
  // Where the ISA has wide tiles, an even block takes the next one with it (their panels follow
  // one another in dh_{t-1}'s product).
  constexpr int kPair = V::kWideRows > 0 ? 2 : 1;
  // The scheduler's units are those pairs (the reset-before GRU's second phase runs both blocks of
  // one), so that an odd block costs no claim and no count on the counters both threads write.
  // Backward at 2 threads, Zen 5 (bench/ab_builds.py, against a unit per block): T=50 B=32 I=H=256
  // LSTM 1.004x and 1.004x (swapped), GRU 1.014x, RNN(tanh) 1.019x; LSTM T=1000 B=16 I=H=128
  // 1.034x; GRU T=100 B=1 I=H=256 1.015x; reset-before GRU B=32 1.003x and 1.005x, B=1 1.040x and 1.042x.
  const int nunits = (nub + kPair - 1) / kPair;
  BlockScheduler sched;  // as in layer_forward: set up before the region, no barrier in it
  sched.reset(2 + Tn * P, nunits, threads);

#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
  {
    const int part = sched.start();
    if (pw.fill)
      sched.run(0, part, [&](int u) {
        for (int ub = u * kPair; ub < std::min(nub, (u + 1) * kPair); ++ub) pw.pack_block(ub);
      });
    // This step's active rows, and the previous one's with their gate-gradient rows (dG_h);
    // the reset-before GRU's da_n rows for its second phase.
    Scratch<int> rows(B), prev_rows(B);
    Scratch<const T*> dg_rows(B), arows(Cell::kResetBefore ? B : 0);
    int prev_nact = 0;
    Scratch<T> acc(static_cast<size_t>(B) * 2 * L);
    alignas(32) T hl[L], dh[L], dc[L], dgxl[G * L], dghl[G * L], dhd[L];

    // Gate gradients of block ub's units at step t, over its `nact` active `rows` (needs only the
    // block's own dh, dc); t_next: the step this loop visits next (-1 after the last). Frozen rows:
    // no gate gradient; dh and dc pass straight through (untouched).
    auto gate_gradients = [&](int t, int t_next, int nact, int ub) {
      const long tb0 = static_cast<long>(t) * B, v0 = vp.off[t];
      const int j0 = ub * L, n = H - j0 < L ? H - j0 : L;
      for (int i = 0; i < nact; ++i) {
        const int b = rows[i];
        const long row = tb0 + b, vrow = v0 + i;
        // The saved gates and extras, read in place (tile order); the rest is [T, B, ..] rows.
        const T* grow = a.gates + tile_offset(t, ub, b, nub, B, G);
        const T* erow = Cell::kResetBefore || E == 0 ? nullptr : a.extra + tile_offset(t, ub, b, nub, B, E);
        if (i + kAhead < nact) {
          const int ahead = rows[i + kAhead];
          for (int g = 0; g < G; ++g) {
            prefetch_lanes(a.gates + tile_offset(t, ub, ahead, nub, B, G) + g * L);
            prefetch_lanes(dgx.data() + (vrow + kAhead) * ldg + g * H + j0, true);
          }
          if (erow != nullptr)
            for (int e = 0; e < E; ++e) prefetch_lanes(a.extra + tile_offset(t, ub, ahead, nub, B, E) + e * L);
          if (Cell::kReadsH) prefetch_lanes(a.hprev + (tb0 + ahead) * H + j0);
          prefetch_lanes(a.dy + (tb0 + ahead) * H + j0);
        }
        // dy a whole step ahead as well: kAhead rows is too short a lead for lines that come from
        // memory (dy is read once per call), and a step's lines fit in the L2 beside the panels.
        // T=50 B=32 I=H=256 backward, 2 threads, Zen 5 (bench/ab_builds.py, both orders): LSTM
        // 1.04x twice, GRU 1.06x, RNN(tanh) 1.03x; LSTM T=1000 B=16 H=128 1.04-1.08x, T=100 B=64
        // I=H=512 1.02x; GRU batch 1 1.01x. The saved gates a step ahead too: even.
        if (t_next >= 0) prefetch_lanes(a.dy + (static_cast<long>(t_next) * B + b) * H + j0);
        if (Cell::kReadsH) load_lanes<V>(hl, a.hprev + row * H + j0, n);
        sum_lanes<V>(dh, D + static_cast<long>(b) * H + j0, a.dy + row * H + j0, n);
        if constexpr (Cell::kResetBefore) {
          Cell::template backward_nz<V>(grow, hl, dh, a.clip_gate, dgxl, dhd);
          for (int g = 1; g < 3; ++g) store_lanes<V>(dgx.data() + vrow * ldg + g * H + j0, dgxl + g * L, n);
        } else {
          if (Cell::kCellState) load_lanes<V>(dc, C + static_cast<long>(b) * H + j0, n);
          Cell::template backward<V>(grow, hl, erow, dh, dc, a.clip_gate, dgxl, dghl, dhd);
          if (Cell::kCellState) store_lanes<V>(C + static_cast<long>(b) * H + j0, dc, n);
          for (int g = 0; g < G; ++g) {
            store_lanes<V>(dgx.data() + vrow * ldg + g * H + j0, dgxl + g * L, n);
            if (kSplitH) store_lanes<V>(dgh + vrow * ldg + g * H + j0, dghl + g * L, n);
            // Bias gradients summed as they are produced (fixed order: steps, then rows);
            // db_hh is a sum of its own only where the h part differs (kSplitH).
            double* bx = dbx.data() + g * H + j0;
            for (int u = 0; u < n; ++u) bx[u] += dgxl[g * L + u];
            if (kSplitH) {
              double* bh = dbh.data() + g * H + j0;
              for (int u = 0; u < n; ++u) bh[u] += dghl[g * L + u];
            }
          }
        }
        store_lanes<V>(D + static_cast<long>(b) * H + j0, dhd, n);
      }
    };
    // The previous step's dh_{t-1} for blocks [ub, ub + np): dh_direct + dG_h · W_hh[:, blocks]
    // (reset-before: r, z only), over that step's rows.
    auto propagate = [&](int ub, int np) {
      const int K = Cell::kResetBefore ? 2 * H : static_cast<int>(GH);
      const int j0 = ub * L, n = H - j0 < np * L ? H - j0 : np * L;
      tile_panels<V>(dg_rows.data(), prev_nact, K, packed + static_cast<size_t>(ub) * GH * L, GH * L, np, acc.data(),
                     kPair * L);
      for (int i = 0; i < prev_nact; ++i) {
        T* d = D + static_cast<long>(prev_rows[i]) * H + j0;
        const T* c = acc.data() + static_cast<long>(i) * kPair * L;
        for (int u = 0; u < n; ++u) d[u] += c[u];
      }
    };

    // Step s's gate gradients run in the phase of step s-1's dh_{t-1}; the last phase only propagates.
    for (int s = 0; s <= Tn; ++s) {
      const int t = a.reverse ? s : Tn - 1 - s;  // the forward's visiting order, reversed
      const int t_next = s + 1 < Tn ? (a.reverse ? t + 1 : t - 1) : -1;
      const int nact = s < Tn ? active_rows(a.lengths, B, t, rows.data()) : 0;
      sched.run(1 + s * P, part, [&](int u) {
        const int ub = u * kPair;
        const int np = nub - ub < kPair ? nub - ub : kPair;
        if (s > 0) propagate(ub, np);
        if (s < Tn)
          for (int q = ub; q < ub + np; ++q) gate_gradients(t, t_next, nact, q);
      });
      if (s == Tn) break;
      const long tb0 = static_cast<long>(t) * B, v0 = vp.off[t];
      if constexpr (Cell::kResetBefore) {
        // Phase 2: drh = da_n · W_hn for each block's units, then da_r and the r path into dh_{t-1}.
        for (int i = 0; i < nact; ++i) arows[i] = dgx.data() + (v0 + i) * ldg + 2 * H;
        sched.run(2 + s * P, part, [&](int unit) {
          for (int ub = unit * kPair; ub < std::min(nub, (unit + 1) * kPair); ++ub) {
            const int j0 = ub * L, n = H - j0 < L ? H - j0 : L;
            const T* panel = packed + static_cast<size_t>(ub) * GH * L;
            tile_rows<V>(arows.data(), nact, H, panel + 2 * static_cast<long>(H) * L, L, L, acc.data(), L);
            for (int i = 0; i < nact; ++i) {
              const int b = rows[i];
              const long row = tb0 + b, vrow = v0 + i;
              const T* grow = a.gates + tile_offset(t, ub, b, nub, B, G);  // r
              load_lanes<V>(hl, a.hprev + row * H + j0, n);
              load_lanes<V>(dhd, D + static_cast<long>(b) * H + j0, n);
              Cell::template backward_r<V>(grow, hl, acc.data() + static_cast<long>(i) * L, a.clip_gate, dgxl, dhd);
              store_lanes<V>(dgx.data() + vrow * ldg + j0, dgxl, n);
              store_lanes<V>(D + static_cast<long>(b) * H + j0, dhd, n);
              for (int g = 0; g < G; ++g) {
                const T* dgr = dgx.data() + vrow * ldg + g * H + j0;
                double* bx = dbx.data() + g * H + j0;
                for (int u = 0; u < n; ++u) bx[u] += dgr[u];
              }
            }
          }
        });
      }
      rows.swap(prev_rows);
      prev_nact = nact;
      for (int i = 0; i < nact; ++i) dg_rows[i] = dgh + (v0 + i) * ldg;
    }
    sched.finish();
  }

  if (pw.fresh) store_packed(std::move(pw.fresh));
  // dx and the weight gradients: one product each over the valid (t, b) rows; with frozen rows,
  // x, h_{t-1} (and r*h) are gathered to match and dx scattered back.
  const bool all = vp.all;
  WorkBuffer<T> dxc(all || a.dx == nullptr ? 0 : static_cast<size_t>(NV) * I), xc(all ? 0 : static_cast<size_t>(NV) * I);
  WorkBuffer<T> hc(all ? 0 : static_cast<size_t>(NV) * H), ec(all || !Cell::kResetBefore ? 0 : static_cast<size_t>(NV) * H);
  if (!all) {
    vp.gather(a.lengths, Tn, B, a.x, I, xc.data());
    vp.gather(a.lengths, Tn, B, a.hprev, H, hc.data());
    if (Cell::kResetBefore) vp.gather(a.lengths, Tn, B, a.extra, H, ec.data());
  }
  const T* xs = all ? a.x : xc.data();
  const T* hs = all ? a.hprev : hc.data();
  if (a.dx == nullptr) {
    // dx not asked for (an input that needs no gradient): its product is skipped.
  } else if (tiled_input_gradient<V>(G, H)) {
    input_gradient<V>(dgx.data(), ldg, NV, G, H, I, a.w_ih, all ? a.dx : dxc.data(), a.threads);
  } else {
    gemm(false, false, NV, I, GH, T(1), dgx.data(), ldg, a.w_ih, I, T(0), all ? a.dx : dxc.data(), I, a.threads);
  }
  if (!all && a.dx != nullptr) vp.scatter(a.lengths, Tn, B, dxc.data(), I, a.dx);
  const int gh = static_cast<int>(GH);
  const T clip = a.clip_value;
  double sq = 0.0;  // the parameter gradients' sum of squares, after the clamp
  if constexpr (Cell::kResetBefore) {
    // dW_hh's r and z rows from [dG_r | dG_z] and h_{t-1}; its n rows from dG_n and r*h_{t-1}.
    const T* es = all ? a.extra : ec.data();
    const GradOperand<T> x_op{xs, I, I, a.dw_ih, I}, h_op{hs, H, H, a.dw_hh, H}, e_op{es, H, H, a.dw_hh + 2L * H * H, H};
    sq = weight_gradient<V>(dgx.data(), ldg, gh, NV, &x_op, 1, clip, a.threads);
    sq += weight_gradient<V>(dgx.data(), ldg, 2 * H, NV, &h_op, 1, clip, a.threads);
    sq += weight_gradient<V>(dgx.data() + 2 * H, ldg, H, NV, &e_op, 1, clip, a.threads);
  } else if constexpr (kSplitH) {
    const GradOperand<T> x_op{xs, I, I, a.dw_ih, I}, h_op{hs, H, H, a.dw_hh, H};
    sq = weight_gradient<V>(dgx.data(), ldg, gh, NV, &x_op, 1, clip, a.threads);
    sq += weight_gradient<V>(dgh, ldg, gh, NV, &h_op, 1, clip, a.threads);
  } else {
    const GradOperand<T> ops[2] = {{xs, I, I, a.dw_ih, I}, {hs, H, H, a.dw_hh, H}};  // one packing of dG for both
    sq = weight_gradient<V>(dgx.data(), ldg, gh, NV, ops, 2, clip, a.threads);
  }
  const double* dbh_src = kSplitH ? dbh.data() : dbx.data();
  for (long k = 0; k < GH; ++k) {
    a.db_ih[k] = static_cast<T>(dbx[k]);
    a.db_hh[k] = static_cast<T>(dbh_src[k]);
  }
  const double sqb = clamp_sqnorm_rows(a.db_ih, GH, 1, gh, clip) + clamp_sqnorm_rows(a.db_hh, GH, 1, gh, clip);
  *a.sqnorm = a.bias ? sq + sqb : sq;
}
