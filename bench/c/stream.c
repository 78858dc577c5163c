/* @file STREAM-like copy bandwidth over float arrays much larger than cache; counts 8 bytes per element
 * (read + write), as W1 does. Usage: stream [MiB per array] [reps]; threads from OMP_NUM_THREADS. */
#include <omp.h>
#include "timing.h"

int main(int argc, char **argv) {
  size_t n = (size_t)arg_int(argc, argv, 1, 256) * 1024 * 1024 / sizeof(float);
  int reps = arg_int(argc, argv, 2, 10);
  float *a = aligned_alloc(64, n * sizeof(float)), *c = aligned_alloc(64, n * sizeof(float));
  double *t = malloc(reps * sizeof(double));
  if (!a || !c || !t || reps < 1) return fprintf(stderr, "stream: cannot allocate %zu floats x2 for %d reps\n", n, reps), 1;
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) a[i] = (float)(i % 1000), c[i] = 0; /* first touch by the thread that copies */
  for (int r = 0; r < reps; r++) {
    double t0 = now_s();
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) c[i] = a[i];
    t[r] = now_s() - t0;
  }
  if (c[n / 2] != a[n / 2]) return fprintf(stderr, "stream: copy is wrong\n"), 1;
  char note[64];
  snprintf(note, sizeof note, "copy, %zu MiB per array", n * sizeof(float) >> 20);
  print_record("W1", "copy", omp_get_max_threads(), 0, 8.0 * n, t, reps, "GB/s", note);
  return 0;
}
