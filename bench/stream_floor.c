/* A floor under the batch-1 recurrent product on this machine: each of `threads` OpenMP threads
 * keeps its own slice of a [rows][H] float32 W_hh and reads all of it once per step (the least a
 * step h·W_hhᵀ can do: every weight is needed, once), meeting the others at one barrier per step,
 * for `steps` steps; no multiplication, gate math or input projection. Prints the fastest of
 * `repeats` runs in milliseconds. Used by batch1_floor.py, which compiles it for this machine.
 *
 *     stream_floor rows H steps threads repeats
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s rows H steps threads repeats\n", argv[0]);
    return 2;
  }
  const long rows = atol(argv[1]), H = atol(argv[2]), steps = atol(argv[3]);
  const int threads = atoi(argv[4]), repeats = atoi(argv[5]);
  if (rows < 1 || H < 1 || steps < 1 || threads < 1 || repeats < 1) {
    fprintf(stderr, "stream_floor: expected positive sizes\n");
    return 2;
  }
  float* out = calloc((size_t)rows, sizeof(float));
  double best = 1e30;
  float sink = 0.0f;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
  {
    const int me = omp_get_thread_num(), n = omp_get_num_threads();
    const long r0 = rows * me / n, r1 = rows * (me + 1) / n;
    /* Each thread allocates and first touches its own slice: it lives in that thread's cache. */
    float* w = malloc(sizeof(float) * (size_t)((r1 - r0) * H));
    for (long i = 0; i < (r1 - r0) * H; ++i) w[i] = (float)((i * 7 + me) % 13) * 1e-3f;
    for (int rep = 0; rep <= repeats; ++rep) { /* the first run warms the caches, untimed */
#pragma omp barrier
      const double start = omp_get_wtime();
      for (long s = 0; s < steps; ++s) {
        /* Every weight read once, 64 independent sums: as fast as the caches deliver the slice. */
        float acc[64] = {0};
        const long n = (r1 - r0) * H;
        long i = 0;
        for (; i + 64 <= n; i += 64)
          for (int j = 0; j < 64; ++j) acc[j] += w[i + j];
        for (; i < n; ++i) acc[0] += w[i];
        float total = 0.0f;
        for (int j = 0; j < 64; ++j) total += acc[j];
        out[r0] = total;
#pragma omp barrier
      }
      const double ms = (omp_get_wtime() - start) * 1e3;
#pragma omp master
      if (rep > 0 && ms < best) best = ms;
    }
    sink += out[r0];
    free(w);
  }
  printf("%.6f %g\n", best, (double)sink);
  free(out);
  return 0;
}
