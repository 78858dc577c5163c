/**
 * @file metalgrad's side of the benchmark workloads W1–W5, through the public API only. Each returns
 * the sampled outputs that the runner compares across libraries and the step that is timed; the
 * bench test runs them at tiny sizes against float64 references.
 */

import { NDArray, jit, nn, numpy as np, tree, valueAndGrad } from 'metalgrad';
import { W3_CHECK_STEPS, W3_LR, inputs, sample } from './data';

export interface Prepared {
  /** Sampled outputs of the first call(s), for the cross-library check. */
  check: number[];
  /** One timed call; results are read back only where the workload says so (W3's loss, W4, W5). */
  step: () => unknown;
}

/** `((tanh(x*1.5+2)*3+0.5) max 0)*0.7-0.1`: 8 elementwise ops. */
const chain = (x: NDArray): NDArray =>
  np.subtract(np.multiply(np.maximum(np.add(np.multiply(np.tanh(np.add(np.multiply(x, 1.5), 2)), 3), 0.5), 0), 0.7), 0.1);

/** W1: the jitted chain over `n` float32 elements. */
export function w1(n: number): Prepared {
  const f = jit(chain);
  const x = np.array(inputs.w1(n));
  return { check: sample(f(x).data()), step: () => f(x) };
}

/** W2: jitted `n × n` matmul. */
export function w2(n: number): Prepared {
  const [aData, bData] = inputs.w2(n);
  const a = np.reshape(np.array(aData), [n, n]);
  const b = np.reshape(np.array(bData), [n, n]);
  const mm = jit((p: NDArray, q: NDArray) => np.matmul(p, q));
  return { check: sample(mm(a, b).data()), step: () => mm(a, b) };
}

type Layer = { w: NDArray; b: NDArray };

/** Mean softmax cross-entropy of an MLP with ReLU between layers. */
function mlpLoss(params: Layer[], x: NDArray, y: NDArray): NDArray {
  let h = x;
  params.forEach((layer, l) => {
    h = np.add(np.matmul(h, layer.w), layer.b);
    if (l < params.length - 1) h = nn.relu(h);
  });
  return np.divide(np.negative(np.sum(np.multiply(nn.logSoftmax(h, { axis: -1 }), y))), x.shape[0]);
}

/** W3: one SGD training step of the MLP, `jit(valueAndGrad)` with the parameter update inside; the loss is read back. */
export function w3(dims: number[], batch: number): Prepared {
  const data = inputs.w3(dims, batch);
  let params: Layer[] = data.weights.map((w, l) => ({ w: np.reshape(np.array(w), [dims[l], dims[l + 1]]), b: np.array(data.biases[l]) }));
  const x = np.reshape(np.array(data.x), [batch, dims[0]]);
  const y = np.reshape(np.array(data.y), [batch, dims[dims.length - 1]]);
  const update = jit((p: Layer[], xs: NDArray, ys: NDArray): [NDArray, Layer[]] => {
    const [loss, grads] = valueAndGrad(mlpLoss)(p, xs, ys);
    return [loss, tree.map((v: NDArray, g: NDArray) => np.subtract(v, np.multiply(g, W3_LR)), p, grads)];
  });
  const step = (): number => {
    const [loss, next] = update(params, x, y);
    params = next;
    return loss.item();
  };
  return { check: Array.from({ length: W3_CHECK_STEPS }, step), step };
}

/** W4: the chain plus `+1`, `*0.5` (10 ops), jitted, on a small input; the result is read back. */
export function w4(n: number): Prepared {
  const f = jit((x: NDArray) => np.multiply(np.add(chain(x), 1), 0.5));
  const x = np.array(inputs.w4(n));
  return { check: Array.from(f(x).data()), step: () => f(x).data() };
}

/** W5: `ops` eager adds of small arrays in sequence, then one read-back (timed per add). */
export function w5(n: number, ops: number): Prepared {
  const [aData, bData] = inputs.w5(n);
  const a = np.array(aData);
  const b = np.array(bData);
  const step = (): Float32Array => {
    let y = a;
    for (let k = 0; k < ops; k++) y = np.add(y, b);
    return y.data() as Float32Array;
  };
  return { check: Array.from(step()), step };
}
