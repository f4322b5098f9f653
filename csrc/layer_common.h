// Helpers the time loops share: weight packing for the per-step products, moving one
// 16-unit block between [.., H] rows and padded lane arrays, and the active-row list.
// Include inside an ISA namespace after microkernel.h.
#pragma once

// Forward panel of unit block ub: [H][G*16], column g*16 + u = w_hh[g*H + ub*16 + u][k]
// (zero past H), so one tile yields all G gates of 16 units: the gate math runs on it at once.
template <typename T>
void pack_forward_panel(const T* w_hh, int G, int H, int ub, T* panel) {
  const int NC = G * kBlock, j0 = ub * kBlock;
  for (int k = 0; k < H; ++k)
    for (int g = 0; g < G; ++g)
      for (int u = 0; u < kBlock; ++u)
        panel[static_cast<long>(k) * NC + g * kBlock + u] =
            j0 + u < H ? w_hh[(static_cast<long>(g) * H + j0 + u) * H + k] : T(0);
}

// Backward panel of unit block ub: [G*H][16] = columns ub*16.. of w_hh (zero past H),
// for dh_prev = dG · W_hh.
template <typename T>
void pack_backward_panel(const T* w_hh, int G, int H, int ub, T* panel) {
  const int j0 = ub * kBlock;
  const long GH = static_cast<long>(G) * H;
  for (long n = 0; n < GH; ++n)
    for (int u = 0; u < kBlock; ++u) panel[n * kBlock + u] = j0 + u < H ? w_hh[n * H + j0 + u] : T(0);
}

// dst[0..16) = src[0..n), zero-padded.
template <typename T>
inline void load_lanes(T* dst, const T* src, int n) {
  if (n == kBlock) {
    for (int u = 0; u < kBlock; ++u) dst[u] = src[u];
  } else {
    for (int u = 0; u < n; ++u) dst[u] = src[u];
    for (int u = n; u < kBlock; ++u) dst[u] = T(0);
  }
}
template <typename T>
inline void store_lanes(T* dst, const T* src, int n) {
  if (n == kBlock) {
    for (int u = 0; u < kBlock; ++u) dst[u] = src[u];
  } else {
    for (int u = 0; u < n; ++u) dst[u] = src[u];
  }
}

// Rows b with t < lengths[b] (the others are frozen at step t), ascending.
inline int active_rows(const int64_t* lengths, int B, int t, int* rows) {
  int n = 0;
  for (int b = 0; b < B; ++b)
    if (t < lengths[b]) rows[n++] = b;
  return n;
}
