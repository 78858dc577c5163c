/* @file OpenBLAS sgemm GFLOP/s (row-major n x n, no transposes) as the practical compute peak.
 * Usage: sgemm n [reps]; threads from OPENBLAS_NUM_THREADS. */
#include <cblas.h>
#include "timing.h"

extern char *openblas_get_corename(void);
extern int openblas_get_num_threads(void);

int main(int argc, char **argv) {
  int n = arg_int(argc, argv, 1, 1024), reps = arg_int(argc, argv, 2, 5);
  size_t nn = (size_t)n * n;
  float *a = aligned_alloc(64, nn * sizeof(float)), *b = aligned_alloc(64, nn * sizeof(float)), *c = aligned_alloc(64, nn * sizeof(float));
  double *t = malloc(reps * sizeof(double));
  if (n < 1 || reps < 1 || !a || !b || !c || !t) return fprintf(stderr, "sgemm: bad size %d or reps %d, or out of memory\n", n, reps), 1;
  for (size_t i = 0; i < nn; i++) a[i] = (float)(i % 7) * 0.1f, b[i] = (float)(i % 5) * 0.2f;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n); /* warm-up */
  for (int r = 0; r < reps; r++) {
    double t0 = now_s();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    t[r] = now_s() - t0;
  }
  char note[64];
  snprintf(note, sizeof note, "OpenBLAS core %s", openblas_get_corename());
  print_record("W2", "openblas", openblas_get_num_threads(), n, 2.0 * n * n * n, t, reps, "GFLOP/s", note);
  return 0;
}
