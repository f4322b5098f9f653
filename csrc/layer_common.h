// Helpers the time loops share: weight packing for the per-step products, moving one
// 16-unit block between [.., H] rows and padded lane arrays, and the active-row list.
// Include inside an ISA namespace after microkernel.h.
#pragma once

// Forward panel of unit block ub for w [G*H][K] (w_hh: K = H; w_ih: K = I): [K][G*16],
// column g*16 + u = w[g*H + ub*16 + u][k] (zero past H), so one tile yields all G gates of
// 16 units: the gate math runs on it at once.
template <typename T>
void pack_forward_panel(const T* w, int G, int H, int K, int ub, T* panel) {
  const int NC = G * kBlock, j0 = ub * kBlock;
  for (int k = 0; k < K; ++k)
    for (int g = 0; g < G; ++g)
      for (int u = 0; u < kBlock; ++u)
        panel[static_cast<long>(k) * NC + g * kBlock + u] =
            j0 + u < H ? w[(static_cast<long>(g) * H + j0 + u) * K + k] : T(0);
}

// Backward panel of column block cb of w [G*H][K] (w_hh: K = H, w_ih: K = I): [G*H][16] =
// columns cb*16.. (zero past K), for dh_prev = dG · W_hh and dx = dG · W_ih.
template <typename T>
void pack_backward_panel(const T* w, int G, int H, int K, int cb, T* panel) {
  const int c0 = cb * kBlock;
  const long GH = static_cast<long>(G) * H;
  for (long n = 0; n < GH; ++n)
    for (int u = 0; u < kBlock; ++u) panel[n * kBlock + u] = c0 + u < K ? w[n * K + c0 + u] : T(0);
}

// Moving a block between rows and lane arrays. A full block moves as whole vectors of V, the
// width the cells load and store the lanes with: a load wider than the stores that wrote its
// bytes cannot be forwarded from them and waits for them to reach the cache. With scalar
// copies here, perf put a third of the forward gate math's time on such loads.

// dst[0..16) = src[0..n), zero-padded.
template <class V>
inline void load_lanes(typename V::Elem* dst, const typename V::Elem* src, int n) {
  if (n == kBlock) {
    for (int u = 0; u < kBlock; u += V::kWidth) V::load(src + u).store(dst + u);
  } else {
    for (int u = 0; u < n; ++u) dst[u] = src[u];
    for (int u = n; u < kBlock; ++u) dst[u] = typename V::Elem(0);
  }
}

// dst[0..n) = src[0..n).
template <class V>
inline void store_lanes(typename V::Elem* dst, const typename V::Elem* src, int n) {
  if (n == kBlock) {
    for (int u = 0; u < kBlock; u += V::kWidth) V::load(src + u).store(dst + u);
  } else {
    for (int u = 0; u < n; ++u) dst[u] = src[u];
  }
}

// dst[0..16) = a[0..n) + b[0..n), zero-padded.
template <class V>
inline void sum_lanes(typename V::Elem* dst, const typename V::Elem* a, const typename V::Elem* b, int n) {
  if (n == kBlock) {
    for (int u = 0; u < kBlock; u += V::kWidth) (V::load(a + u) + V::load(b + u)).store(dst + u);
  } else {
    for (int u = 0; u < n; ++u) dst[u] = a[u] + b[u];
    for (int u = n; u < kBlock; ++u) dst[u] = typename V::Elem(0);
  }
}

constexpr int kAhead = 2;  // rows ahead that the backward's gate-gradient phase prefetches (4: no better)

// Asks for the cache lines of p[0..16) ahead of use (stores too: `write`). For arrays read a
// block (64 bytes of floats) per row, H or G*H elements apart: every row is on another page,
// where the hardware prefetchers do not follow. The saved gates and extras (tile order) run on
// from row to row, yet dropping their prefetch made the LSTM backward slower (0.98x).
template <typename T>
inline void prefetch_lanes(const T* p, bool write = false) {
  constexpr int kLine = 64;
  for (int off = 0; off < kBlock * static_cast<int>(sizeof(T)); off += kLine) {
    if (write)
      __builtin_prefetch(reinterpret_cast<const char*>(p) + off, 1);
    else
      __builtin_prefetch(reinterpret_cast<const char*>(p) + off, 0);
  }
}

// Every 64-byte line of rows[0..n) (len elements each) asked for at once, for reading.
template <typename T>
inline void prefetch_rows(const T* const* rows, int n, long len) {
  for (int i = 0; i < n; ++i) {
    const auto begin = reinterpret_cast<uintptr_t>(rows[i]) & ~uintptr_t(63);
    const auto end = reinterpret_cast<uintptr_t>(rows[i] + len);
    for (uintptr_t line = begin; line < end; line += 64) __builtin_prefetch(reinterpret_cast<const void*>(line), 0, 3);
  }
}

// Offset of step t, unit block ub, batch row b in a saved array in tile order with `width`
// lane arrays per row (kernels.h).
inline long tile_offset(long t, int ub, long b, int nub, long B, int width) {
  return ((t * nub + ub) * B + b) * width * kBlock;
}

// Rows b with t < lengths[b] (the others are frozen at step t), ascending.
inline int active_rows(const int64_t* lengths, int B, int t, int* rows) {
  int n = 0;
  for (int b = 0; b < B; ++b)
    if (t < lengths[b]) rows[n++] = b;
  return n;
}

// The valid (t, b) pairs (t < lengths[b]) numbered step by step, ascending b within a step:
// pair (t, rows[i]) of active_rows is row off[t] + i of the compact arrays. The once-per-call
// products run over these rows only, so a finished sequence costs nothing there. With every
// row valid at every step the numbering is the identity (off[t] = t*B, `all`).
struct ValidPairs {
  Scratch<long> off;  // [T+1]
  long n = 0;
  bool all = true;

  ValidPairs(const int64_t* lengths, int Tn, int B) : off(static_cast<size_t>(Tn) + 1) {
    for (int t = 0; t < Tn; ++t) {
      long k = 0;
      for (int b = 0; b < B; ++b) k += t < lengths[b];
      off[t + 1] = off[t] + k;
    }
    n = off[Tn];
    all = n == static_cast<long>(Tn) * B;
  }

  // dst[off[t] + i] = src[t*B + rows[i]], rows of w elements.
  template <typename T>
  void gather(const int64_t* lengths, int Tn, int B, const T* src, long w, T* dst) const {
    for (int t = 0; t < Tn; ++t) {
      T* d = dst + off[t] * w;
      for (int b = 0; b < B; ++b)
        if (t < lengths[b]) {
          std::copy(src + (static_cast<long>(t) * B + b) * w, src + (static_cast<long>(t) * B + b + 1) * w, d);
          d += w;
        }
    }
  }

  // The inverse: dst[t*B + b] = src[off[t] + i] for valid pairs, zero for the others.
  template <typename T>
  void scatter(const int64_t* lengths, int Tn, int B, const T* src, long w, T* dst) const {
    for (int t = 0; t < Tn; ++t) {
      const T* s = src + off[t] * w;
      for (int b = 0; b < B; ++b) {
        T* d = dst + (static_cast<long>(t) * B + b) * w;
        if (t < lengths[b]) {
          std::copy(s, s + w, d);
          s += w;
        } else {
          std::fill(d, d + w, T(0));
        }
      }
    }
  }
};

enum class Panels : int { kForward, kBackward };

// A packed weight array for one layout: the cached copy while the array's bytes are
// unchanged, else a fresh entry (`fill` non-null) that the caller packs in its parallel
// region, block by block (pack_block), and then publishes with store_packed.
template <typename T>
struct PackedW {
  std::shared_ptr<const PackedWeights> hit;
  std::shared_ptr<PackedWeights> fresh;
  const T* data;
  T* fill;
  const T* w;  // the array, [G*H][K]
  int G, H, K;
  Panels panels;
  int blocks;        // panels, one per 16 units (forward) or 16 columns of K (backward)
  long panel_elems;  // elements per panel

  // Panel b of the fresh entry, and piece b of its copy of the array's bytes: the blocks copy those
  // in the team, not the calling thread all of them before the region. With weights changing on
  // every call (a training loop; bench/ab_builds.py --changing), W3's training forward and backward
  // 1.01x, LSTM T=100 B=1 I=H=256 inference 1.08x, GRU 1.07x.
  void pack_block(int b) const {
    if (panels == Panels::kForward)
      pack_forward_panel(w, G, H, K, b, fill + b * panel_elems);
    else
      pack_backward_panel(w, G, H, K, b, fill + b * panel_elems);
    const size_t n = fresh->raw_bytes, begin = n * b / blocks, end = n * (b + 1) / blocks;
    std::memcpy(fresh->raw.data() + begin, reinterpret_cast<const char*>(w) + begin, end - begin);
  }
};

// w: [G*H][K]; forward panels (pack_forward_panel: one per unit block, [K][G*16]) or backward
// ones (pack_backward_panel: one per 16 of the K columns, [G*H][16]).
// frozen_id (non-zero, ForwardArgs::frozen_id): an entry packed under the same id is used without
// comparing bytes (which reads the array and the cache's copy of it: at batch 1, most of a one-step
// call); a new entry is packed under it. threads: how many may compare the bytes.
template <typename T>
PackedW<T> get_packed(const T* w, int G, int H, int K, Panels panels, unsigned long long frozen_id = 0,
                      int threads = 1) {
  const bool fwd = panels == Panels::kForward;
  const long panel_count = ((fwd ? H : K) + kBlock - 1) / kBlock;
  const long panel_elems = (fwd ? static_cast<long>(K) : static_cast<long>(H)) * G * kBlock;
  const size_t bytes = static_cast<size_t>(G) * H * K * sizeof(T);
  const size_t packed_bytes = static_cast<size_t>(panel_count * panel_elems) * sizeof(T);
  const PackedLayout layout{static_cast<int>(panels), static_cast<int>(sizeof(T)), G, H, K};
  PackedW<T> p{};
  p.w = w, p.G = G, p.H = H, p.K = K, p.panels = panels;
  p.blocks = static_cast<int>(panel_count), p.panel_elems = panel_elems;
  p.hit = frozen_id != 0 ? find_frozen(w, bytes, layout, frozen_id) : find_packed(w, bytes, layout, threads);
  if (p.hit) {
    p.data = reinterpret_cast<const T*>(p.hit->packed.data());
    return p;
  }
  p.fresh = new_packed(w, bytes, layout, packed_bytes, frozen_id);
  p.fill = reinterpret_cast<T*>(p.fresh->packed.data());
  p.data = p.fill;
  return p;
}

// Threads for a time loop of `steps` steps whose products have K = `k` (H, or H + I with the
// input tiles): no more than its unit blocks, none with fewer than `min_per_step` multiply-adds
// per step, where a synchronisation per step would cost more than it saves (a 3-layer H=2 LSTM
// took 28-59 ms on 2 threads of a busy machine against 0.5 ms on 1), and for calls of few steps
// none with fewer than 64 K in the whole call, where the team's start and end would. The
// thread count never changes results, so this is free to choose.
// At 2 threads on Zen 5, T=100 B=1 (bench/RESULTS.md, thirteenth pass), 2 threads against 1
// back to back: LSTM H=96 1.46x, H=128 1.94x, GRU H=128 1.72x, RNN H=192 1.58x, H=256 1.56x-1.71x,
// LSTM B=4 H=64 1.77x; from 16 K per step on, not 8 K: at 8 K an LSTM H=64 (16 K in all) ran
// 1.7x-2.1x faster back to back, but its first call after a pause took 0.67-0.74 ms against 0.33
// (waking the worker, where the call had used one thread). One LSTM H=64 step 0.83x-1.08x at 8 K:
// one step keeps 64 K. The backward (two synchronisations a step) keeps 64 K per step: there 8 K
// gave LSTM H=64 0.63x, H=128 0.90x, RNN H=256 0.64x.
constexpr long kForwardMacsPerStep = 1L << 14, kBackwardMacsPerStep = 1L << 16;
inline int loop_threads(int threads, long B, int G, int H, long k, long steps, long min_per_step) {
  constexpr long kMinMacsPerCall = 1L << 16;
  const long macs = B * G * static_cast<long>(H) * k;
  const long nub = (H + kBlock - 1) / kBlock;
  long n = threads;
  if (n > nub) n = nub;
  if (n > macs / min_per_step) n = macs / min_per_step;
  const long few = steps < kMinMacsPerCall / min_per_step ? steps : kMinMacsPerCall / min_per_step;
  if (n > macs * few / kMinMacsPerCall) n = macs * few / kMinMacsPerCall;  // (more steps: the rule above)
  return n < 1 ? 1 : static_cast<int>(n);
}
