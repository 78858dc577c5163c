/* @file Timing and reporting shared by the machine-limit programs: one BENCH-RECORD JSON line each. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Sorts `t` (seconds) and prints the record of the workload the limit bounds; `amount` per run over time gives the figure (1e9 per s). */
static void print_record(const char *workload, const char *library, int threads, int size, double amount, double *t, int n, const char *unit, const char *note) {
  qsort(t, n, sizeof(double), cmp_double);
  double median = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
  printf("BENCH-RECORD {\"workload\":\"%s\",\"library\":\"%s\",\"threads\":%d,", workload, library, threads);
  if (size > 0) printf("\"size\":%d,", size);
  printf("\"median\":%.4f,\"best\":%.4f,\"unit\":\"%s\",\"note\":\"%s\"}\n", amount / median / 1e9, amount / t[0] / 1e9, unit, note);
}

static int arg_int(int argc, char **argv, int i, int fallback) {
  return argc > i ? atoi(argv[i]) : fallback;
}
