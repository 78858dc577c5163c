/** @file Timing helpers for the benchmark drivers: warm-up, then repeated samples; median and best. */

export interface Timing {
  /** Median milliseconds per call over the samples. */
  medianMs: number;
  /** Fastest sample, milliseconds per call. */
  bestMs: number;
  samples: number;
}

export interface TimingOptions {
  /** Untimed calls first (compilation, caches, thread start-up). */
  warmup?: number;
  /** Timed samples; fewer when `maxMs` runs out, never fewer than 3. */
  reps?: number;
  /** Calls per sample (for calls too short to time one by one). */
  inner?: number;
  /** Soft budget for all samples together. */
  maxMs?: number;
}

export function summarize(samplesMs: number[]): Timing {
  const s = [...samplesMs].sort((a, b) => a - b);
  const m = s.length;
  if (m === 0) throw new Error('summarize: argument `samplesMs` must hold at least one sample, received none');
  return { medianMs: m % 2 ? s[(m - 1) / 2] : (s[m / 2 - 1] + s[m / 2]) / 2, bestMs: s[0], samples: m };
}

const defaults = (o: TimingOptions): Required<TimingOptions> => ({ warmup: 2, reps: 9, inner: 1, maxMs: 10000, ...o });

/** Times a synchronous `fn`. */
export function timeSync(fn: () => unknown, options: TimingOptions = {}): Timing {
  const { warmup, reps, inner, maxMs } = defaults(options);
  for (let i = 0; i < warmup; i++) fn();
  const samples: number[] = [];
  const start = performance.now();
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) fn();
    samples.push((performance.now() - t0) / inner);
    if (samples.length >= 3 && performance.now() - start > maxMs) break;
  }
  return summarize(samples);
}

/** Times an asynchronous `fn` (awaited each call; for libraries whose results are read back asynchronously). */
export async function timeAsync(fn: () => Promise<unknown>, options: TimingOptions = {}): Promise<Timing> {
  const { warmup, reps, inner, maxMs } = defaults(options);
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  const start = performance.now();
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) await fn();
    samples.push((performance.now() - t0) / inner);
    if (samples.length >= 3 && performance.now() - start > maxMs) break;
  }
  return summarize(samples);
}
