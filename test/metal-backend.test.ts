/**
 * @file The Metal backend (lib/backend/metal.ts) and device placement, on Linux: the addon's `metal`
 * object is emulated by running the generated MSL through clang (test/metal/emulated-addon.ts), with
 * work deferred until a result is read. Results must match the CPU device.
 */

import { devicePut, devices, defaultDevice, grad, jit, nn, numpy as np, NDArray } from 'metalgrad';
import { createMetalBackend, compileError, MetalBackend } from '../lib/backend/metal';
import { setMetalBackendForTesting } from '../lib/backend/devices';
import { emulatedMetal, EmulatedMetal } from './metal/emulated-addon';

let addon: EmulatedMetal;
let backend: MetalBackend;
const saved = process.env.METALGRAD_DEVICE;

beforeAll(() => {
  addon = emulatedMetal();
  backend = createMetalBackend(addon, '');
  setMetalBackendForTesting(backend);
});
afterAll(() => {
  setMetalBackendForTesting(undefined);
  addon.dispose();
});
afterEach(() => {
  if (saved === undefined) delete process.env.METALGRAD_DEVICE;
  else process.env.METALGRAD_DEVICE = saved;
});

const close = (got: NDArray, want: NDArray, tol = 1e-5): void => {
  expect(got.shape).toEqual(want.shape);
  expect(got.dtype).toBe(want.dtype);
  const g = Array.from(got.data() as Float32Array);
  const w = Array.from(want.data() as Float32Array);
  g.forEach((v, i) => {
    if (Number.isNaN(w[i])) expect(v).toBeNaN();
    else if (!Number.isFinite(w[i])) expect(v).toBe(w[i]);
    else expect(Math.abs(v - w[i])).toBeLessThanOrEqual(tol * (1 + Math.abs(w[i])));
  });
};

const x = np.array([[0.5, -1.25, 2, 3.5], [-4, 0, 1.5, -0.75], [2.25, -3, 0.25, 1]]);
const w = np.array([[1, -2], [0.5, 3], [-1.5, 0.25], [2, 1]]);
const b = np.array([0.1, -0.2]);
const smooth = (shape: number[]): NDArray => np.array(Array.from({ length: shape.reduce((p, n) => p * n, 1) }, (_, i) => Math.sin(i * 0.731 + 0.3))).reshape(shape);
const longRows = smooth([4, 3000]);
const [tall, wide, bias] = [smooth([70, 33]), smooth([33, 130]), smooth([130])];
const fewLongRows = smooth([3, 12000]);

describe('the Metal backend over the emulated addon', () => {
  test('devices lists metal, which becomes the default device', () => {
    delete process.env.METALGRAD_DEVICE;
    expect(devices()).toEqual(['cpu', 'metal']);
    expect(defaultDevice()).toBe('metal');
    process.env.METALGRAD_DEVICE = 'cpu';
    expect(defaultDevice()).toBe('cpu');
  });

  const fns: [string, (...a: NDArray[]) => NDArray, () => NDArray[]][] = [
    ['a fused elementwise chain with broadcasting', (a, c) => np.subtract(np.multiply(np.tanh(np.add(a, c)), 3), np.exp(np.negative(np.abs(a)))), () => [x, np.array([1, 2, 3, 4])]],
    ['softmax (reductions with prologue and epilogue)', (a) => nn.softmax(a, { axis: -1 }), () => [x]],
    ['matmul + bias + relu', (a, m, c) => nn.relu(np.add(np.matmul(a, m), c)), () => [x, w, b]],
    ['argmax, comparisons and where', (a) => np.where(np.greater(a, 0), np.argmax(a, { axis: 1 }).astype('float32').reshape([3, 1]), a), () => [x]],
    ['integer arithmetic', (a) => np.add(np.multiply(a.astype('int32'), 7), np.array([1, -2, 3, -4], { dtype: 'int32' })), () => [x]],
    ['a jitted gradient', (a) => grad((y: NDArray) => np.sum(np.square(np.sin(y))))(a), () => [x]],
    ['long rows: cooperative reductions with epilogues', (a) => np.add(np.mean(a, { axis: 1 }), nn.logsumexp(a, { axis: 1 })), () => [longRows]],
    ['a dense layer over several tiles: the epilogue in the matmul store hook', (a, m, c) => nn.relu(np.add(np.matmul(a, m), c)), () => [tall, wide, bias]],
    ['few long rows: two-pass reductions with prologues and epilogues', (a) => np.add(np.var(a, { axis: 1 }), nn.logsumexp(a, { axis: 1 })), () => [fewLongRows]],
    ['a whole-array sum and max: two passes, a scratch buffer each', (a) => np.add(np.sum(a), np.max(a)), () => [fewLongRows]],
    ['few long columns: two passes', (a) => np.mean(a, { axis: 0 }), () => [fewLongRows.reshape([12000, 3])]],
  ];
  test.each(fns)('%s runs on metal and matches the CPU', (_, f, args) => {
    const onCpu = args().map((a) => devicePut(a, 'cpu'));
    const onMetal = args().map((a) => devicePut(a, 'metal'));
    const want = jit(f)(...onCpu);
    const got = jit(f)(...onMetal);
    expect(want.device).toBe('cpu');
    expect(got.device).toBe('metal');
    close(got, want);
  });

  test('a jitted call is one command buffer, committed without waiting; reading waits', () => {
    const f = jit((a: NDArray, c: NDArray) => nn.relu(np.add(np.matmul(a, c), 1)).sum({ axis: 0 }));
    const [a, c] = [devicePut(x, 'metal'), devicePut(w, 'metal')];
    f(a, c).data(); // compiles and warms up
    const commits = addon.commits();
    const out = f(a, c);
    expect(addon.commits()).toBe(commits + 1);
    expect(addon.pending()).toBeGreaterThan(1);
    expect(out.toArray()).toEqual(jit((p: NDArray, q: NDArray) => nn.relu(np.add(np.matmul(p, q), 1)).sum({ axis: 0 }))(devicePut(x, 'cpu'), devicePut(w, 'cpu')).toArray());
    expect(addon.pending()).toBe(0);
  });

  test('a two-pass reduction is two launches over a scratch buffer the executable keeps', () => {
    const f = jit((a: NDArray) => np.add(np.sum(np.square(a), { axis: 1 }), 1));
    const want = f(devicePut(fewLongRows, 'cpu'));
    const a = devicePut(fewLongRows, 'metal');
    addon.sync();
    const first = f(a);
    expect(addon.pending()).toBe(2);
    close(first, want);
    const again = f(a);
    expect(addon.pending()).toBe(2);
    close(again, want);
  });

  test('equal kernels share one pipeline', () => {
    const f = (a: NDArray) => np.multiply(np.add(a, 0.5), 2);
    jit(f)(devicePut(x, 'metal')).data();
    const { compiled, memoryHits } = backend.stats();
    jit((a: NDArray) => np.multiply(np.add(a, 0.5), 2))(devicePut(x, 'metal')).data();
    expect(backend.stats().compiled).toBe(compiled);
    expect(backend.stats().memoryHits).toBeGreaterThan(memoryHits);
  });

  test('eager operations run where their committed operands are', () => {
    process.env.METALGRAD_DEVICE = 'cpu';
    const a = devicePut(x, 'metal');
    const y = np.add(np.multiply(a, 2), 1);
    expect(y.device).toBe('metal');
    close(y, np.add(np.multiply(x, 2), 1));
    expect(np.sum(y).device).toBe('metal');
  });

  test('uncommitted arrays follow the default device; mixed devices move to it', () => {
    process.env.METALGRAD_DEVICE = 'metal';
    expect(x.device).toBe('cpu');
    const y = np.exp(x);
    expect(y.device).toBe('metal');
    close(y, devicePut(np.exp(devicePut(x, 'cpu')), 'cpu'));
    const mixed = np.add(devicePut(x, 'cpu'), devicePut(x, 'metal'));
    expect(mixed.device).toBe('metal');
    process.env.METALGRAD_DEVICE = 'cpu';
    expect(np.add(devicePut(x, 'cpu'), devicePut(x, 'metal')).device).toBe('cpu');
    expect(jit((p: NDArray, q: NDArray) => np.add(p, q))(devicePut(x, 'metal'), devicePut(x, 'cpu')).device).toBe('cpu');
  });

  test('devicePut moves data both ways', () => {
    const m = devicePut(np.array([1, 2, 3], { dtype: 'int32' }), 'metal');
    expect(m.device).toBe('metal');
    const back = devicePut(np.add(m, 1), 'cpu');
    expect(back.device).toBe('cpu');
    expect(back.toArray()).toEqual([2, 3, 4]);
    const flags = devicePut(np.array([true, false]), 'metal');
    expect(flags.toArray()).toEqual([true, false]);
  });

  test('a jit cache entry is per device', () => {
    const f = jit((a: NDArray) => np.cos(a));
    close(f(devicePut(x, 'cpu')), f(devicePut(x, 'metal')));
    expect(f(devicePut(x, 'cpu')).device).toBe('cpu');
    expect(f(devicePut(x, 'metal')).device).toBe('metal');
  });
});

describe('Metal compile errors', () => {
  test('name the failing kernel and show the source line the compiler points at', () => {
    const source = ['#include <metal_stdlib>', 'kernel void k(device float* out [[buffer(0)]]) {', '  out[0] = undefined_name;', '}'].join('\n');
    const log = "metalgrad metal compile: MSL compile error: program_source:3:12: error: use of undeclared identifier 'undefined_name'\n  out[0] = undefined_name;\n           ^";
    const e = compileError('elementwise kernel 0 of 1', source, log);
    expect(e.message).toMatch(/^metal: elementwise kernel 0 of 1 failed to compile: use of undeclared identifier 'undefined_name'\n {2}at line 3: out\[0\] = undefined_name;/);
    expect(compileError('reduce kernel 2 of 3', source, 'metalgrad metal compile: something else').message).toBe('metal: reduce kernel 2 of 3 failed to compile: metalgrad metal compile: something else');
  });
});
