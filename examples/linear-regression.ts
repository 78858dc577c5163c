/** @file Fits y = w·x + b to noisy synthetic data with jit(valueAndGrad) and plain gradient descent. */

import { Array, jit, numpy as np, tree, valueAndGrad } from 'metalgrad';

// Synthetic data: 256 points in 3 dimensions, true weights [2, -3.5, 0.5] and bias 1.25, small noise.
const trueW = [2, -3.5, 0.5];
const trueB = 1.25;
let seed = 42;
const random = (): number => {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 2 ** 32;
};
const n = 256;
const xsData: number[][] = [];
const ysData: number[] = [];
for (let i = 0; i < n; i++) {
  const x = trueW.map(() => random() * 2 - 1);
  xsData.push(x);
  ysData.push(x.reduce((s, v, j) => s + v * trueW[j], trueB) + (random() - 0.5) * 0.1);
}
const xs = np.array(xsData);
const ys = np.array(ysData);

type Params = { w: Array; b: Array };

const loss = (p: Params, x: Array, y: Array): Array => {
  const pred = np.add(np.matmul(x, p.w), p.b);
  return np.mean(np.square(np.subtract(pred, y)));
};

const learningRate = 0.3;
const step = jit((p: Params, x: Array, y: Array): [Array, Params] => {
  const [value, grads] = valueAndGrad(loss)(p, x, y);
  const next = tree.map((param: Array, g: Array) => np.subtract(param, np.multiply(g, learningRate)), p, grads);
  return [value, next];
});

let params: Params = { w: np.zeros([3]), b: np.array(0) };
console.log(`Fitting y = w·x + b on ${n} noisy points (true w = [${trueW}], b = ${trueB})`);
for (let i = 0; i <= 100; i++) {
  const [value, next] = step(params, xs, ys);
  if (i % 10 === 0) console.log(`step ${String(i).padStart(3)}  loss ${value.item().toFixed(6)}`);
  params = next;
}
const w = (params.w.toArray() as number[]).map((v) => v.toFixed(3));
console.log(`learned w = [${w.join(', ')}], b = ${params.b.item().toFixed(3)}`);
