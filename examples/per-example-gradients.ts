/**
 * @file Per-example gradients with `vmap(grad(f))`, used for DP-SGD (differentially private SGD):
 * each example's gradient is clipped to norm ≤ clipNorm before averaging, so that no single example
 * can move the model far, and Gaussian noise of standard deviation noiseMultiplier · clipNorm is
 * added to the sum. Libraries that only give the gradient of a batch's loss need a loop over the
 * batch for this; here it is one jitted call per step.
 */

import { Array, grad, jit, lax, nn, numpy as np, optim, random, tree, vmap } from 'metalgrad';

export interface PerExampleOptions {
  /** Passes over the training set (default 8). */
  epochs?: number;
  /** Examples per step (default 32). */
  batchSize?: number;
  /** The bound on each example's gradient norm (default 1). */
  clipNorm?: number;
  /** The noise's standard deviation, in units of clipNorm, added to the sum of a batch's clipped gradients (default 1). */
  noiseMultiplier?: number;
  learningRate?: number;
  /** The PRNG seed of the data, the initial weights and the noise (default 0). */
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

/**
 * Two overlapping Gaussian clouds in the plane, centred at ±(1, 1), labelled 0 and 1, with 5% of the
 * labels flipped: those examples have large gradients, which clipping bounds.
 */
function makeData(key: Array, n: number): { x: Array; y: Array } {
  const label = np.array(globalThis.Array.from({ length: n }, (_, i) => i % 2));
  const centre = np.expandDims(np.subtract(np.multiply(label, 2), 1), 1);
  const x = np.add(centre, random.normal(random.foldIn(key, 0), [n, 2]));
  const flip = random.bernoulli(random.foldIn(key, 1), 0.05, [n]);
  return { x, y: np.where(flip, np.subtract(1, label), label) };
}

/** The logit of one example: a 2 → 8 (tanh) → 1 network. */
const logit = (p: Params, x: Array): Array => np.add(np.sum(np.multiply(np.tanh(np.add(np.matmul(x, p.w1), p.b1)), p.w2)), p.b2);

/** Binary cross-entropy of one example, log(1 + e^-z) for label 1 and log(1 + e^z) for label 0. */
const exampleLoss = (p: Params, x: Array, y: Array): Array => nn.softplus(np.multiply(np.subtract(1, np.multiply(2, y)), logit(p, x)));

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

/** Rows [start, start + size) of a data array (its leading axis). */
const rows = (a: Array, start: number, size: number): Array => lax.slice(a, [start, ...a.shape.slice(1).map(() => 0)], [start + size, ...a.shape.slice(1)]);

export function main(options: PerExampleOptions = {}): PerExampleResult {
  const { epochs = 8, batchSize = 32, clipNorm = 1, noiseMultiplier = 1, learningRate = 0.5, seed = 0, log = console.log } = options;
  const key = random.key(seed);
  const n = 512;
  const { x: xAll, y: yAll } = makeData(random.foldIn(key, 0), n);
  const glorot = nn.initializers.glorotNormal();
  const initKey = random.foldIn(key, 1);
  let params: Params = {
    w1: glorot(random.foldIn(initKey, 0), [2, 8]),
    b1: np.zeros([8]),
    w2: np.reshape(glorot(random.foldIn(initKey, 1), [8, 1]), [8]),
    b2: np.array(0),
  };

  log(`Per-example gradients: ${n} points in two noisy clouds, a 2 → 8 → 1 network, batches of ${batchSize}.`);
  log(`Each step computes every example's gradient with vmap(grad(loss)), clips each to norm ≤ ${clipNorm}, adds Gaussian noise of standard deviation ${noiseMultiplier * clipNorm} (noiseMultiplier × clipNorm) to their sum, and averages.`);

  // The per-example gradients equal a loop of grad calls, one example at a time.
  const [xb0, yb0] = [rows(xAll, 0, batchSize), rows(yAll, 0, batchSize)];
  const batched = tree.leaves(jit(perExampleGrads)(params, xb0, yb0)) as Array[];
  let loopDifference = 0;
  for (let i = 0; i < batchSize; i++) {
    const one = tree.leaves(grad(exampleLoss)(params, rows(xb0, i, 1).reshape([2]), rows(yb0, i, 1).reshape([]))) as Array[];
    one.forEach((g, j) => {
      const row = batched[j].data().subarray(i * g.size, (i + 1) * g.size);
      g.data().forEach((v, k) => (loopDifference = Math.max(loopDifference, Math.abs(Number(v) - Number(row[k])))));
    });
  }
  log(`vmap(grad) on the first batch matches ${batchSize} separate grad calls (largest difference ${loopDifference.toExponential(1)}).`);

  const optimizer = optim.sgd({ learningRate });
  let state = optimizer.init(params);
  // One jitted call per step: per-example gradients, per-example clipping, noise, the average, the update.
  const step = jit((p: Params, s: unknown, x: Array, y: Array, stepKey: Array): [Params, unknown, Array] => {
    const grads = perExampleGrads(p, x, y);
    const norms = exampleNorms(grads);
    const factor = np.minimum(1, np.divide(clipNorm, np.maximum(norms, 1e-12)));
    const leaves = tree.leaves(grads) as Array[];
    const noisy = leaves.map((g, i) => {
      const clippedSum = np.sum(np.multiply(g, np.reshape(factor, [-1, ...globalThis.Array(g.ndim - 1).fill(1)])), { axis: 0 });
      const noise = np.multiply(random.normal(random.foldIn(stepKey, i), clippedSum.shape), noiseMultiplier * clipNorm);
      return np.divide(np.add(clippedSum, noise), x.shape[0]);
    });
    const [updates, next] = optimizer.update(tree.unflatten(tree.flatten(grads)[1], noisy) as Params, s, p);
    return [optim.applyUpdates(p, updates), next, np.sum(np.greater(norms, clipNorm))];
  });
  const evaluate = jit((p: Params, x: Array, y: Array): [Array, Array] => {
    const z = vmap(logit, { inAxes: [null, 0] })(p, x);
    const loss = np.mean(vmap(exampleLoss, { inAxes: [null, 0, 0] })(p, x, y));
    return [loss, np.mean(np.astype(np.equal(np.greater(z, 0), np.greater(y, 0.5)), 'float32'))];
  });

  const noiseKey = random.foldIn(key, 2);
  const steps = Math.floor(n / batchSize);
  const batches = [...globalThis.Array(steps).keys()].map((b) => [rows(xAll, b * batchSize, batchSize), rows(yAll, b * batchSize, batchSize)]);
  let clippedFraction = 0;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    let clipped = 0;
    batches.forEach(([x, y], b) => {
      let count: Array;
      [params, state, count] = step(params, state, x, y, random.foldIn(noiseKey, (epoch - 1) * steps + b));
      clipped += count.item();
    });
    clippedFraction = clipped / (steps * batchSize);
    const [loss, accuracy] = evaluate(params, xAll, yAll);
    log(`epoch ${epoch}  loss ${loss.item().toFixed(4)}  accuracy ${accuracy.item().toFixed(3)}  clipped ${(clippedFraction * 100).toFixed(0)}% of per-example gradients`);
  }
  const [loss, accuracy] = evaluate(params, xAll, yAll);
  return { accuracy: accuracy.item(), loss: loss.item(), loopDifference, clippedFraction };
}

if (require.main === module) main();
