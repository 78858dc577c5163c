// @file Benchmark driver for jax-js (@jax-js/jax, wasm device, jitted). With --threads=N > 1 it installs a
// Web Worker shim so jax-js runs kernels on N workers; results are then read back asynchronously.
// jax-js has move semantics: an array passed to an op is consumed unless passed as `x.ref`.
// Usage: node bench/drivers/jax-js.mjs [--threads=N] [--quick] [--workloads=W1,W2]
import { arg, data, emit, quick, sizes, timing, wants } from './common.mjs';

const threads = Number(arg('threads', '1'));
if (threads > 1) {
  process.env.JAX_THREADS = String(threads);
  await import('./jax-worker-shim.mjs');
}
const { numpy: np, jit, valueAndGrad, nn, tree } = await import('@jax-js/jax');
const lib = 'jax-js';
// Single-threaded jax-js can read back synchronously; with workers only `await data()` works.
const read = threads > 1 ? (y) => y.data() : (y) => y.dataSync();
const time = (fn, w, size) => (threads > 1 ? timing.timeAsync(fn, data.repetitions(w, quick, size)) : timing.timeSync(fn, data.repetitions(w, quick, size)));
const done = async (y) => { await y.blockUntilReady(); y.dispose(); };

const chain = (x) => np.maximum(np.tanh(x.mul(1.5).add(2)).mul(3).add(0.5), 0).mul(0.7).sub(0.1);

if (wants('W1')) {
  const f = jit(chain);
  const x = np.array(data.inputs.w1(sizes.w1));
  const check = data.sample(await read(f(x.ref)));
  emit(lib, threads, 'W1', await timing.timeAsync(() => done(f(x.ref)), data.repetitions('W1', quick)), 'GB/s', data.w1Bytes(sizes.w1), check);
  x.dispose();
}
if (wants('W2')) {
  const mm = jit((a, b) => np.matmul(a, b));
  for (const n of sizes.w2) {
    const [aData, bData] = data.inputs.w2(n);
    const a = np.array(aData).reshape([n, n]);
    const b = np.array(bData).reshape([n, n]);
    const check = data.sample(await read(mm(a.ref, b.ref)));
    emit(lib, threads, 'W2', await timing.timeAsync(() => done(mm(a.ref, b.ref)), data.repetitions('W2', quick, n)), 'GFLOP/s', data.w2Flops(n), check, { size: n });
    a.dispose();
    b.dispose();
  }
}
if (wants('W3')) {
  const { dims, batch } = sizes.w3;
  const init = data.inputs.w3(dims, batch);
  let params = init.weights.map((w, l) => ({ w: np.array(w).reshape([dims[l], dims[l + 1]]), b: np.array(init.biases[l]) }));
  const x = np.array(init.x).reshape([batch, dims[0]]);
  const y = np.array(init.y).reshape([batch, dims.at(-1)]);
  const loss = (p, xs, ys) => {
    let h = xs;
    p.forEach((layer, l) => {
      h = np.matmul(h, layer.w).add(layer.b);
      if (l < p.length - 1) h = nn.relu(h);
    });
    return np.sum(nn.logSoftmax(h, -1).mul(ys)).mul(-1 / batch);
  };
  const update = jit((p, xs, ys) => {
    const [value, grads] = valueAndGrad(loss)(tree.ref(p), xs, ys);
    return [value, tree.map((v, g) => v.sub(g.mul(data.W3_LR)), p, grads)];
  });
  const step = async () => {
    const [value, next] = update(params, x.ref, y.ref);
    params = next;
    return (await value.data())[0]; // data() consumes `value`
  };
  const check = [];
  for (let i = 0; i < data.W3_CHECK_STEPS; i++) check.push(await step());
  emit(lib, threads, 'W3', await timing.timeAsync(step, data.repetitions('W3', quick)), 'ms', 1, check);
}
if (wants('W4')) {
  const f = jit((x) => chain(x).add(1).mul(0.5));
  const x = np.array(data.inputs.w4(sizes.w4));
  const step = () => read(f(x.ref)); // reading back consumes the result
  emit(lib, threads, 'W4', await time(step, 'W4'), 'us', 1, await step(), { note: threads > 1 ? 'await data()' : 'dataSync()' });
}
if (wants('W5')) {
  const [aData, bData] = data.inputs.w5(sizes.w5.n);
  const a = np.array(aData);
  const b = np.array(bData);
  const step = () => {
    let y = a.ref;
    for (let k = 0; k < sizes.w5.ops; k++) y = y.add(b.ref);
    return read(y);
  };
  emit(lib, threads, 'W5', await time(step, 'W5'), 'us', sizes.w5.ops, await step());
}
process.exit(0); // worker threads would keep the process alive
