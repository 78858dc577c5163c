/**
 * @file The records every benchmark driver prints (one JSON line each, behind a prefix, on stdout)
 * and the runner collects into the table and `bench/results/latest.json`.
 */

import type { Unit, WorkloadId } from './data';
import type { Timing } from './timing';

export type Library = 'metalgrad' | 'copy' | 'openblas' | 'jax-js' | 'tfjs-wasm' | 'onnxruntime';

/** One measured figure: median and best of the samples, in `unit` (higher is better for GB/s and GFLOP/s). */
export interface BenchRecord {
  workload: WorkloadId;
  library: Library;
  threads: number;
  /** W2 (and the OpenBLAS limit): the matmul size. */
  size?: number;
  median: number;
  best: number;
  unit: Unit;
  /** Sampled outputs, compared by the runner against metalgrad's for the same inputs. */
  check?: number[];
  note?: string;
}

/** A workload a library does not run, and why. */
export interface Skip {
  workload: WorkloadId;
  library: Library;
  reason: string;
}

export const RECORD_PREFIX = 'BENCH-RECORD ';
export const SKIP_PREFIX = 'BENCH-SKIP ';

export function emit(record: BenchRecord): void {
  process.stdout.write(RECORD_PREFIX + JSON.stringify(record) + '\n');
}

export function emitSkip(skip: Skip): void {
  process.stdout.write(SKIP_PREFIX + JSON.stringify(skip) + '\n');
}

/** The figures of a timing in `unit`: throughput for `amount` units of work per call, or time per op. */
export function figures(timing: Timing, unit: Unit, amount = 1): { median: number; best: number } {
  switch (unit) {
    case 'GB/s':
    case 'GFLOP/s': // amount per call (bytes or flops) / ms → 1e9 per second
      return { median: amount / timing.medianMs / 1e6, best: amount / timing.bestMs / 1e6 };
    case 'ms': // amount = operations per call
      return { median: timing.medianMs / amount, best: timing.bestMs / amount };
    case 'us':
      return { median: (timing.medianMs * 1000) / amount, best: (timing.bestMs * 1000) / amount };
  }
}

/** Parses a driver's stdout into records and skips; other lines are ignored (they go to the log). */
export function parseDriverOutput(stdout: string): { records: BenchRecord[]; skips: Skip[] } {
  const records: BenchRecord[] = [];
  const skips: Skip[] = [];
  for (const line of stdout.split('\n')) {
    if (line.startsWith(RECORD_PREFIX)) records.push(JSON.parse(line.slice(RECORD_PREFIX.length)) as BenchRecord);
    else if (line.startsWith(SKIP_PREFIX)) skips.push(JSON.parse(line.slice(SKIP_PREFIX.length)) as Skip);
  }
  return { records, skips };
}
