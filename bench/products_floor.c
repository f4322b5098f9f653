/* A floor under the training workloads' products on this machine: each of `threads` OpenMP threads
 * multiplies packed, cache-warm operands in register tiles (MR rows x 2 vectors, the shape of the
 * C++ core's tiles), with nothing else: no gate math, no tape, no synchronisation but the one
 * barrier at the end. Prints the team's rate in GFLOP/s, the fastest of `repeats` runs.
 * Used by training_floor.py, which compiles it for this machine (-march=native: a local
 * measurement, never shipped).
 *
 *     products_floor threads repeats
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__AVX512F__)
#define WIDTH 16
#define MR 12 /* 24 accumulators of 32 registers */
#elif defined(__AVX__)
#define WIDTH 8
#define MR 6 /* 12 of 16 */
#else
#define WIDTH 4
#define MR 6
#endif
#define NV 2
#define KC 256     /* a tile's depth, as a forward step's (K = I or H = 256) */
#define PANELS 8   /* B panels a thread cycles through: 8 x 256 x 32 floats = 256 KB, in L2 */
#define TILES 20000/* tiles per run and thread */

typedef float vec __attribute__((vector_size(WIDTH * sizeof(float))));

static vec load(const float* p) {
  vec v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

/* C[MR][NV*WIDTH] = A[MR][KC] (A packed k-major: a[k*MR + i]) times B[KC][NV*WIDTH]. */
static void tile(const float* a, const float* b, float* c) {
  vec acc[MR][NV];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NV; ++j) acc[i][j] = (vec){0};
  for (int k = 0; k < KC; ++k) {
    vec bk[NV];
    for (int j = 0; j < NV; ++j) bk[j] = load(b + (k * NV + j) * WIDTH);
    for (int i = 0; i < MR; ++i) {
      const vec ai = (vec){0} + a[k * MR + i];
      for (int j = 0; j < NV; ++j) acc[i][j] += ai * bk[j];
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NV; ++j) __builtin_memcpy(c + (i * NV + j) * WIDTH, &acc[i][j], sizeof(vec));
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s threads repeats\n", argv[0]);
    return 2;
  }
  const int threads = atoi(argv[1]), repeats = atoi(argv[2]);
  if (threads < 1 || repeats < 1) {
    fprintf(stderr, "products_floor: expected positive counts\n");
    return 2;
  }
  double best = 1e30;
  float sink = 0.0f;
  for (int r = 0; r < repeats; ++r) {
    double start = 0.0, end = 0.0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    {
      const size_t asize = (size_t)KC * MR, bsize = (size_t)KC * NV * WIDTH;
      float* a = malloc(4 * asize * sizeof(float));
      float* b = malloc(PANELS * bsize * sizeof(float));
      float c[MR * NV * WIDTH];
      for (size_t i = 0; i < 4 * asize; ++i) a[i] = 1e-3f * (float)(i % 7);
      for (size_t i = 0; i < PANELS * bsize; ++i) b[i] = 1e-3f * (float)(i % 5);
      for (int t = 0; t < TILES / 10; ++t) tile(a + (t % 4) * asize, b + (t % PANELS) * bsize, c); /* warm */
#pragma omp barrier
#pragma omp master
      start = omp_get_wtime();
      for (int t = 0; t < TILES; ++t) {
        tile(a + (t % 4) * asize, b + (t % PANELS) * bsize, c);
        sink += c[t % (MR * NV * WIDTH)];
      }
#pragma omp barrier
#pragma omp master
      end = omp_get_wtime();
      free(a);
      free(b);
    }
    if (end - start < best) best = end - start;
  }
  const double flops = 2.0 * MR * NV * WIDTH * KC * (double)TILES * threads;
  printf("%.2f\n", flops / best / 1e9);
  return sink == 12345.0f; /* keeps the products from being optimised away */
}
