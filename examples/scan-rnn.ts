/**
 * @file Trains a small recurrent network to predict the next value of sine waves. The network runs
 * over time with `lax.scan` (one loop in the IR, whatever the sequence length), and
 * `jit(valueAndGrad)` differentiates through the whole loop: the backward pass is a reverse scan.
 */

import { Array, jit, lax, numpy as np, tree, valueAndGrad } from 'metalgrad';

export interface RnnOptions {
  steps?: number;
  hidden?: number;
  seqLen?: number;
  batch?: number;
  learningRate?: number;
  /** Where progress lines go (console.log by default). */
  log?: (line: string) => void;
}

type Params = { wh: Array; wx: Array; b: Array; v: Array; c: Array };

/** A deterministic generator in [0, 1) so that every run prints the same numbers. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const fill = (n: number, f: () => number): number[] => globalThis.Array.from({ length: n }, f);

/** Sine waves with random phases and frequencies: inputs [T, B] and next-step targets [T, B]. */
function sineBatch(random: () => number, seqLen: number, batch: number): { xs: Array; targets: Array } {
  const xs: number[][] = [];
  const targets: number[][] = [];
  const phase = fill(batch, () => random() * 2 * Math.PI);
  const freq = fill(batch, () => 0.3 + 0.3 * random());
  for (let t = 0; t < seqLen; t++) {
    xs.push(phase.map((p, i) => Math.sin(p + freq[i] * t)));
    targets.push(phase.map((p, i) => Math.sin(p + freq[i] * (t + 1))));
  }
  return { xs: np.array(xs), targets: np.array(targets) };
}

/** h' = tanh(h·Wh + x·wx + b), prediction = h'·v + c; scanned over the time axis of `xs`. */
function predict(p: Params, xs: Array): Array {
  const batch = xs.shape[1];
  const hidden = p.b.shape[0];
  const cell = (h: Array, x: Array): [Array, Array] => {
    const pre = np.add(np.add(np.matmul(h, p.wh), np.multiply(np.expandDims(x, 1), p.wx)), p.b);
    const next = np.tanh(pre);
    return [next, np.add(np.matmul(next, p.v), p.c)];
  };
  const [, ys] = lax.scan(cell, np.zeros([batch, hidden]), xs);
  return ys;
}

const loss = (p: Params, xs: Array, targets: Array): Array => np.mean(np.square(np.subtract(predict(p, xs), targets)));

/** Trains with Adam; returns the loss at each step. */
export function main(options: RnnOptions = {}): number[] {
  const { steps = 300, hidden = 16, seqLen = 40, batch = 32, learningRate = 0.02, log = console.log } = options;
  const random = lcg(7);
  const init = (shape: number[], scale: number): Array => np.reshape(np.array(fill(shape.reduce((a, b) => a * b, 1), () => (random() * 2 - 1) * scale)), shape);
  let params: Params = { wh: init([hidden, hidden], 1 / Math.sqrt(hidden)), wx: init([hidden], 1), b: np.zeros([hidden]), v: init([hidden], 1 / Math.sqrt(hidden)), c: np.array(0) };
  const { xs, targets } = sineBatch(random, seqLen, batch);

  // Adam (β1 = 0.9, β2 = 0.999) over the parameter tree, all inside one jitted step.
  const zeros = (): Params => tree.map((x: Array) => np.zerosLike(x), params);
  let m = zeros();
  let s = zeros();
  const step = jit((p: Params, mt: Params, st: Params, t: Array, x: Array, y: Array): [Array, Params, Params, Params] => {
    const [value, g] = valueAndGrad(loss)(p, x, y);
    const m2: Params = tree.map((a: Array, gi: Array) => np.add(np.multiply(a, 0.9), np.multiply(gi, 0.1)), mt, g);
    const s2: Params = tree.map((a: Array, gi: Array) => np.add(np.multiply(a, 0.999), np.multiply(np.square(gi), 0.001)), st, g);
    const c1 = np.subtract(1, np.power(0.9, t));
    const c2 = np.subtract(1, np.power(0.999, t));
    const next: Params = tree.map(
      (pi: Array, mi: Array, si: Array) => np.subtract(pi, np.divide(np.multiply(learningRate, np.divide(mi, c1)), np.add(np.sqrt(np.divide(si, c2)), 1e-8))),
      p,
      m2,
      s2,
    );
    return [value, next, m2, s2];
  });

  log(`Training an RNN (hidden ${hidden}) to predict sine waves: ${batch} sequences of ${seqLen} steps, lax.scan over time, ${steps} Adam steps`);
  const losses: number[] = [];
  const started = Date.now();
  for (let i = 1; i <= steps; i++) {
    const [value, next, m2, s2] = step(params, m, s, np.array(i), xs, targets);
    losses.push(value.item());
    [params, m, s] = [next, m2, s2];
    if (i === 1 || i % Math.max(1, Math.floor(steps / 10)) === 0 || i === steps) log(`step ${String(i).padStart(4)}  loss ${value.item().toFixed(5)}`);
  }
  log(`loss ${losses[0].toFixed(4)} → ${losses[losses.length - 1].toFixed(4)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return losses;
}

if (require.main === module) main();
