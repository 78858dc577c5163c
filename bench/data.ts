/**
 * @file Workload definitions shared by every benchmark driver: sizes, seeded inputs and the sampled
 * outputs ("checks") that the runner compares across libraries. Plain JS, no library imports, so the
 * drivers for other libraries (bench/drivers/*.mjs) load it from dist/ too.
 */

export const WORKLOADS = ['W1', 'W2', 'W3', 'W4', 'W5'] as const;
export type WorkloadId = (typeof WORKLOADS)[number];
export type Unit = 'GB/s' | 'GFLOP/s' | 'ms' | 'us';

/** Sizes of every workload; `full` is what the issue's targets are stated for. */
export interface Sizes {
  /** W1: elements of the float32 input of the tanh chain. */
  w1: number;
  /** W2: square matmul sizes. */
  w2: number[];
  /** W3: MLP layer widths (input first) and batch size. */
  w3: { dims: number[]; batch: number };
  /** W4: elements of the input of the 10-op jitted function. */
  w4: number;
  /** W5: elements of each operand of the eager add, and adds per timed sample. */
  w5: { n: number; ops: number };
}

export const SIZES: Record<'full' | 'quick' | 'tiny', Sizes> = {
  full: { w1: 1 << 24, w2: [256, 1024, 2048], w3: { dims: [784, 512, 512, 10], batch: 128 }, w4: 100, w5: { n: 100, ops: 100 } },
  quick: { w1: 1 << 20, w2: [256], w3: { dims: [784, 512, 512, 10], batch: 128 }, w4: 100, w5: { n: 100, ops: 100 } },
  tiny: { w1: 1000, w2: [8, 33], w3: { dims: [7, 6, 5, 3], batch: 4 }, w4: 100, w5: { n: 10, ops: 5 } },
};

/** W3's SGD learning rate and the number of steps whose losses form its check. */
export const W3_LR = 0.01;
export const W3_CHECK_STEPS = 3;

/** The W1 chain `((tanh(x*1.5+2)*3+0.5) max 0)*0.7-0.1` in float64, for tests. */
export const w1Reference = (x: number): number => Math.max(Math.tanh(x * 1.5 + 2) * 3 + 0.5, 0) * 0.7 - 0.1;
/** W4: the W1 chain followed by `+1` and `*0.5` (10 elementwise ops), in float64, for tests. */
export const w4Reference = (x: number): number => (w1Reference(x) + 1) * 0.5;

/** Deterministic standard normals (LCG + Box–Muller), identical in every driver. */
export function randn(n: number, scale = 1, seed = 1): Float32Array {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()) * scale;
  return out;
}

/** Row-major one-hot labels, `batch × classes`, with deterministic pseudo-random classes. */
export function oneHotLabels(batch: number, classes: number, seed = 7): Float32Array {
  const y = new Float32Array(batch * classes);
  let s = seed;
  for (let i = 0; i < batch; i++) {
    s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff;
    y[i * classes + (s % classes)] = 1;
  }
  return y;
}

/** The inputs of each workload: every driver builds its tensors from these. */
export const inputs = {
  w1: (n: number): Float32Array => randn(n),
  w2: (n: number): [Float32Array, Float32Array] => [randn(n * n, 1, 2), randn(n * n, 1, 3)],
  /** He-initialised weights (row-major `dims[l] × dims[l+1]`) and zero biases, then x and one-hot y. */
  w3: (dims: number[], batch: number): { weights: Float32Array[]; biases: Float32Array[]; x: Float32Array; y: Float32Array } => ({
    weights: dims.slice(1).map((out, l) => randn(dims[l] * out, Math.sqrt(2 / dims[l]), 11 + l)),
    biases: dims.slice(1).map((out) => new Float32Array(out)),
    x: randn(batch * dims[0], 1, 5),
    y: oneHotLabels(batch, dims[dims.length - 1]),
  }),
  w4: (n: number): Float32Array => randn(n, 1, 4),
  w5: (n: number): [Float32Array, Float32Array] => [randn(n, 1, 6), randn(n, 1, 7)],
};

/** Up to `count` indices spread evenly over `[0, length)`, always including the last. */
export function sampleIndices(length: number, count = 64): number[] {
  if (length <= count) return Array.from({ length }, (_, i) => i);
  return Array.from({ length: count }, (_, i) => Math.floor((i * (length - 1)) / (count - 1)));
}

/** The values of `data` at `sampleIndices(data.length, count)`, as plain numbers. */
export function sample(data: ArrayLike<number>, count = 64): number[] {
  return sampleIndices(data.length, count).map((i) => Number(data[i]));
}

/** Throughput conversions: W1 counts 8 bytes per element (read x, write y); W2 counts 2n³ flops. */
export const w1Bytes = (n: number): number => 8 * n;
export const w2Flops = (n: number): number => 2 * n ** 3;

/** Repetitions per workload, shared by every driver so all libraries are sampled alike. */
export interface Repetitions {
  warmup: number;
  reps: number;
  inner: number;
}
export function repetitions(workload: WorkloadId, quick: boolean, size = 0): Repetitions {
  const r = (warmup: number, reps: number, inner = 1): Repetitions => (quick ? { warmup: Math.ceil(warmup / 4), reps: Math.min(reps, 5), inner: Math.ceil(inner / 4) } : { warmup, reps, inner });
  switch (workload) {
    case 'W1':
      // Six untimed calls: each makes a 64 MiB result, and allocators (metalgrad's recycled-buffer
      // pool, the other libraries' arenas) take a few calls to hold enough for a steady loop.
      return r(6, 11);
    case 'W2':
      return size >= 2048 ? r(1, 5) : size >= 1024 ? r(2, 9) : r(3, 15, 4);
    case 'W3':
      return r(3, 21);
    case 'W4':
      return r(500, 9, 2000);
    case 'W5':
      return r(20, 9, 100);
  }
}
