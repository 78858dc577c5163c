// @file Benchmark driver for onnxruntime-node (CPU execution provider) on hand-built ONNX graphs.
// Usage: node bench/drivers/onnxruntime.mjs --threads=N [--quick] [--workloads=W1,W2]
import { arg, data, emit, require, sizes, skip, quick, timing, wants } from './common.mjs';
import { chainModel, matmulModel } from './onnx.mjs';

const ort = require('onnxruntime-node');
const threads = Number(arg('threads', '1'));
const options = { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionProviders: ['cpu'], logSeverityLevel: 3 };
const lib = 'onnxruntime';
const tensor = (values, dims) => new ort.Tensor('float32', values, dims);
const time = (fn, w, size) => timing.timeAsync(fn, data.repetitions(w, quick, size));

if (wants('W1')) {
  const session = await ort.InferenceSession.create(chainModel(), options);
  const X = tensor(data.inputs.w1(sizes.w1), [sizes.w1]);
  const check = data.sample((await session.run({ X })).Y.data);
  emit(lib, threads, 'W1', await time(() => session.run({ X }), 'W1'), 'GB/s', data.w1Bytes(sizes.w1), check);
}
if (wants('W2')) {
  const session = await ort.InferenceSession.create(matmulModel(), options);
  for (const n of sizes.w2) {
    const [a, b] = data.inputs.w2(n);
    const feeds = { A: tensor(a, [n, n]), B: tensor(b, [n, n]) };
    const check = data.sample((await session.run(feeds)).C.data);
    emit(lib, threads, 'W2', await time(() => session.run(feeds), 'W2', n), 'GFLOP/s', data.w2Flops(n), check, { size: n });
  }
}
if (wants('W3')) skip(lib, 'W3', 'onnxruntime-node runs inference graphs only (no autodiff or training API)');
if (wants('W4')) {
  const session = await ort.InferenceSession.create(chainModel({ ten: true }), options);
  const X = tensor(data.inputs.w4(sizes.w4), [sizes.w4]);
  const read = async () => (await session.run({ X })).Y.data;
  emit(lib, threads, 'W4', await time(read, 'W4'), 'us', 1, await read(), { note: '10-op graph, session.run' });
}
if (wants('W5')) skip(lib, 'W5', 'onnxruntime-node has no eager ops (graphs only)');
