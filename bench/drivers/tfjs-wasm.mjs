// @file Benchmark driver for TensorFlow.js on its wasm backend (XNNPACK, SIMD; single-threaded in Node).
// The union package '@tensorflow/tfjs' is loaded because plain tfjs-core registers no gradients in Node.
// tfjs has no jit: W4 runs its 10 ops eagerly inside tidy. Usage: node bench/drivers/tfjs-wasm.mjs [--quick]
import { data, emit, quick, require, sizes, timing, wants } from './common.mjs';

const tf = require('@tensorflow/tfjs');
require('@tensorflow/tfjs-backend-wasm');
if (!(await tf.setBackend('wasm'))) throw new Error('tfjs-wasm: the wasm backend failed to initialise');
await tf.ready();
const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
const threads = tf.backend().wasm.tfjs.getThreadsCount();
const lib = 'tfjs-wasm';
const time = (fn, w, size) => timing.timeSync(fn, data.repetitions(w, quick, size));
const note = `simd=${simd}`;

const chain = (x) => tf.sub(tf.mul(tf.maximum(tf.add(tf.mul(tf.tanh(tf.add(tf.mul(x, 1.5), 2)), 3), 0.5), 0), 0.7), 0.1);
/** Runs `f` in tidy, reads the result back when `readBack`, and frees it. */
const once = (f, readBack) => {
  const y = tf.tidy(f);
  const values = readBack ? y.dataSync() : undefined;
  y.dispose();
  return values;
};

if (wants('W1')) {
  const x = tf.tensor1d(data.inputs.w1(sizes.w1));
  const check = data.sample(once(() => chain(x), true));
  emit(lib, threads, 'W1', time(() => once(() => chain(x), false), 'W1'), 'GB/s', data.w1Bytes(sizes.w1), check, { note });
  x.dispose();
}
if (wants('W2')) {
  for (const n of sizes.w2) {
    const [aData, bData] = data.inputs.w2(n);
    const a = tf.tensor2d(aData, [n, n]);
    const b = tf.tensor2d(bData, [n, n]);
    const check = data.sample(once(() => tf.matMul(a, b), true));
    emit(lib, threads, 'W2', time(() => once(() => tf.matMul(a, b), false), 'W2', n), 'GFLOP/s', data.w2Flops(n), check, { size: n, note });
    a.dispose();
    b.dispose();
  }
}
if (wants('W3')) {
  const { dims, batch } = sizes.w3;
  const init = data.inputs.w3(dims, batch);
  const params = init.weights.flatMap((w, l) => [tf.variable(tf.tensor2d(w, [dims[l], dims[l + 1]])), tf.variable(tf.tensor1d(init.biases[l]))]);
  const x = tf.tensor2d(init.x, [batch, dims[0]]);
  const y = tf.tensor2d(init.y, [batch, dims.at(-1)]);
  const optimizer = tf.train.sgd(data.W3_LR);
  const loss = () => {
    let h = x;
    for (let l = 0; l < dims.length - 1; l++) {
      h = tf.add(tf.matMul(h, params[2 * l]), params[2 * l + 1]);
      if (l < dims.length - 2) h = tf.relu(h);
    }
    return tf.losses.softmaxCrossEntropy(y, h); // mean over the batch
  };
  const step = () => {
    const value = optimizer.minimize(loss, true);
    const v = value.dataSync()[0];
    value.dispose();
    return v;
  };
  const check = Array.from({ length: data.W3_CHECK_STEPS }, step);
  emit(lib, threads, 'W3', time(step, 'W3'), 'ms', 1, check, { note: 'optimizer.minimize' });
}
if (wants('W4')) {
  const x = tf.tensor1d(data.inputs.w4(sizes.w4));
  const step = () => once(() => tf.mul(tf.add(chain(x), 1), 0.5), true);
  emit(lib, threads, 'W4', time(step, 'W4'), 'us', 1, step(), { note: `${note}; no jit: 10 eager ops in tidy + dataSync` });
}
if (wants('W5')) {
  const [aData, bData] = data.inputs.w5(sizes.w5.n);
  const a = tf.tensor1d(aData);
  const b = tf.tensor1d(bData);
  const step = () => once(() => {
    let y = a;
    for (let k = 0; k < sizes.w5.ops; k++) y = tf.add(y, b);
    return y;
  }, true);
  emit(lib, threads, 'W5', time(step, 'W5'), 'us', sizes.w5.ops, step(), { note });
}
