/**
 * @file Per-example gradients with `vmap(grad(f))`, clipped one example at a time as in DP-SGD
 * (differentially private SGD: each example's gradient is scaled to norm ≤ clipNorm before averaging,
 * so that no single example can move the model far). Libraries that only give the gradient of a
 * batch's loss cannot express this without a loop over the batch.
 */

import { Array, grad, jit, nn, numpy as np, optim, tree, vmap } from 'metalgrad';

export interface PerExampleOptions {
  /** Passes over the training set (default 8). */
  epochs?: number;
  /** Examples per step (default 32). */
  batchSize?: number;
  /** The bound on each example's gradient norm (default 1). */
  clipNorm?: number;
  learningRate?: number;
  /** Seeds the data and the initial weights (default 0). */
  seed?: number;
  log?: (line: string) => void;
}

export interface PerExampleResult {
  accuracy: number;
  loss: number;
  /** The largest difference between vmap(grad) and a loop of grad calls over the first batch. */
  loopDifference: number;
  /** The fraction of per-example gradients that clipping scaled down, over the last epoch. */
  clippedFraction: number;
}

type Params = { w1: Array; b1: Array; w2: Array; b2: Array };

/** mulberry32 with Box–Muller normals: reproducible synthetic data and initial weights. */
function generator(seed: number): { uniform: () => number; normal: () => number } {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}

/**
 * Two overlapping Gaussian clouds in the plane, centred at ±(1, 1), labelled 0 and 1, with 5% of the
 * labels flipped: those examples have large gradients, which clipping bounds.
 */
function makeData(n: number, random: ReturnType<typeof generator>): { x: number[][]; y: number[] } {
  const x: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    const centre = label === 1 ? 1 : -1;
    x.push([centre + random.normal(), centre + random.normal()]);
    y.push(random.uniform() < 0.05 ? 1 - label : label);
  }
  return { x, y };
}

/** The logit of one example: a 2 → 8 (tanh) → 1 network. */
const logit = (p: Params, x: Array): Array => np.add(np.sum(np.multiply(np.tanh(np.add(np.matmul(x, p.w1), p.b1)), p.w2)), p.b2);

/** Binary cross-entropy of one example, log(1 + e^-z) for label 1 and log(1 + e^z) for label 0. */
const exampleLoss = (p: Params, x: Array, y: Array): Array => {
  const z = logit(p, x);
  return nn.softplus(np.multiply(np.subtract(1, np.multiply(2, y)), z));
};

/** The gradient of each example's loss: every leaf gains a leading batch axis. */
const perExampleGrads = vmap(grad(exampleLoss), { inAxes: [null, 0, 0] }) as (p: Params, x: Array, y: Array) => Params;

/** Each example's gradient norm over all parameters together: a [batch] array. */
function exampleNorms(grads: Params): Array {
  const squares = tree.leaves(grads).map((g) => {
    const a = g as Array;
    return np.sum(np.square(a), { axis: [...globalThis.Array(a.ndim).keys()].slice(1) });
  });
  return np.sqrt(squares.reduce((acc, s) => np.add(acc, s)));
}

export function main(options: PerExampleOptions = {}): PerExampleResult {
  const { epochs = 8, batchSize = 32, clipNorm = 1, learningRate = 0.5, seed = 0, log = console.log } = options;
  const random = generator(seed);
  const n = 512;
  const data = makeData(n, random);
  const xAll = np.array(data.x);
  const yAll = np.array(data.y);
  const init = (rows: number, cols: number) => np.array(Float32Array.from({ length: rows * cols }, () => random.normal() / Math.sqrt(rows)), { shape: [rows, cols] });
  let params: Params = { w1: init(2, 8), b1: np.zeros([8]), w2: np.reshape(init(8, 1), [8]), b2: np.array(0) };

  log(`Per-example gradients: ${n} points in two noisy clouds, a 2 → 8 → 1 network, batches of ${batchSize}.`);
  log(`Each step computes every example's gradient with vmap(grad(loss)), clips each to norm ≤ ${clipNorm}, and averages them.`);

  // The per-example gradients equal a loop of grad calls, one example at a time.
  const xb0 = np.array(data.x.slice(0, batchSize));
  const yb0 = np.array(data.y.slice(0, batchSize));
  const batched = jit(perExampleGrads)(params, xb0, yb0);
  let loopDifference = 0;
  for (let i = 0; i < batchSize; i++) {
    const one = grad(exampleLoss)(params, np.array(data.x[i]), np.array(data.y[i])) as Params;
    tree.leaves(one).forEach((g, j) => {
      const row = Float32Array.from((tree.leaves(batched)[j] as Array).data()).subarray(i * (g as Array).size, (i + 1) * (g as Array).size);
      (g as Array).data().forEach((v, k) => (loopDifference = Math.max(loopDifference, Math.abs(Number(v) - row[k]))));
    });
  }
  log(`vmap(grad) on the first batch matches ${batchSize} separate grad calls (largest difference ${loopDifference.toExponential(1)}).`);

  const optimizer = optim.sgd({ learningRate });
  let state = optimizer.init(params);
  // One jitted call per step: per-example gradients, per-example clipping, the average, the update.
  const step = jit((p: Params, s: unknown, x: Array, y: Array): [Params, unknown, Array] => {
    const grads = perExampleGrads(p, x, y);
    const norms = exampleNorms(grads);
    const factor = np.minimum(1, np.divide(clipNorm, np.maximum(norms, 1e-12)));
    const clipped = tree.map((g: Array) => np.mean(np.multiply(g, np.reshape(factor, [-1, ...globalThis.Array(g.ndim - 1).fill(1)])), { axis: 0 }), grads) as Params;
    const [updates, next] = optimizer.update(clipped, s, p);
    return [optim.applyUpdates(p, updates), next, np.sum(np.greater(norms, clipNorm))];
  });
  const evaluate = jit((p: Params, x: Array, y: Array): [Array, Array] => {
    const z = vmap(logit, { inAxes: [null, 0] })(p, x);
    const loss = np.mean(vmap(exampleLoss, { inAxes: [null, 0, 0] })(p, x, y));
    return [loss, np.mean(np.astype(np.equal(np.greater(z, 0), np.greater(y, 0.5)), 'float32'))];
  });

  let clippedFraction = 0;
  const steps = Math.floor(n / batchSize);
  for (let epoch = 1; epoch <= epochs; epoch++) {
    let clipped = 0;
    for (let b = 0; b < steps; b++) {
      const x = np.array(data.x.slice(b * batchSize, (b + 1) * batchSize));
      const y = np.array(data.y.slice(b * batchSize, (b + 1) * batchSize));
      let count: Array;
      [params, state, count] = step(params, state, x, y);
      clipped += count.item();
    }
    clippedFraction = clipped / (steps * batchSize);
    const [loss, accuracy] = evaluate(params, xAll, yAll);
    log(`epoch ${epoch}  loss ${loss.item().toFixed(4)}  accuracy ${accuracy.item().toFixed(3)}  clipped ${(clippedFraction * 100).toFixed(0)}% of per-example gradients`);
  }
  const [loss, accuracy] = evaluate(params, xAll, yAll);
  return { accuracy: accuracy.item(), loss: loss.item(), loopDifference, clippedFraction };
}

if (require.main === module) main();
