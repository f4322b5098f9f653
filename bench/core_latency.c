/* How long one cache line takes to go from one core to another on this machine: two OpenMP
 * threads hand a counter back and forth `trips` times, each waiting for the other's write. Prints
 * the median of `repeats` runs as nanoseconds one way. A batch-1 step hands its state over
 * between the team's cores at least once, so this latency is part of every step's time; on a
 * virtual machine it moves as the host places the two CPUs. Used by batch1_floor.py and
 * interleaved.py, through native.py.
 *
 *     core_latency trips repeats
 */
#include <omp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static _Alignas(64) atomic_long ball;

static int by_value(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s trips repeats\n", argv[0]);
    return 2;
  }
  const long trips = atol(argv[1]);
  const int repeats = atoi(argv[2]);
  if (trips < 1 || repeats < 1) {
    fprintf(stderr, "core_latency: expected positive counts\n");
    return 2;
  }
  double* ns = malloc(sizeof(double) * (size_t)repeats);
  if (ns == NULL) {
    fprintf(stderr, "core_latency: out of memory for %d repeats\n", repeats);
    return 1;
  }
  int team = 0;
  for (int rep = 0; rep <= repeats; ++rep) { /* the first run starts the team, untimed */
    atomic_store(&ball, 0);
    double start = 0.0;
#pragma omp parallel num_threads(2)
    {
      const long me = omp_get_thread_num();
#pragma omp single
      team = omp_get_num_threads();
      if (team == 2) {
#pragma omp barrier
        if (me == 0) start = omp_get_wtime();
        /* Thread 0 moves the ball from even to odd, thread 1 from odd to even. */
        for (long v = me; v < 2 * trips; v += 2) {
          while (atomic_load_explicit(&ball, memory_order_acquire) != v) {
          }
          atomic_store_explicit(&ball, v + 1, memory_order_release);
        }
      }
    }
    if (team != 2) {
      fprintf(stderr, "core_latency: expected a team of 2 threads, got %d\n", team);
      return 1;
    }
    if (rep > 0) ns[rep - 1] = (omp_get_wtime() - start) * 1e9 / (2.0 * trips);
  }
  qsort(ns, (size_t)repeats, sizeof(double), by_value);
  printf("%.1f\n", repeats % 2 ? ns[repeats / 2] : 0.5 * (ns[repeats / 2 - 1] + ns[repeats / 2]));
  free(ns);
  return 0;
}
