/**
 * @file The Metal backend over an emulated Apple7 GPU (test/metal/emulated-addon.ts), whose kernels
 * combine lanes with SIMD-group functions; metal-backend.test.ts covers the threadgroup-memory forms.
 * Its own file, so that no cache of that suite's backend sees this one.
 */

import { devicePut, jit, nn, numpy as np, NDArray } from 'metalgrad';
import { createMetalBackend } from '../lib/backend/metal';
import { setMetalBackendForTesting } from '../lib/backend/devices';
import { emulatedMetal, EmulatedMetal } from './metal/emulated-addon';

let addon: EmulatedMetal;

beforeAll(() => {
  addon = emulatedMetal({ apple7: true });
  setMetalBackendForTesting(createMetalBackend(addon, ''));
});
afterAll(() => {
  setMetalBackendForTesting(undefined);
  addon.dispose();
});

const smooth = (shape: number[]): NDArray => np.array(Array.from({ length: shape.reduce((p, n) => p * n, 1) }, (_, i) => Math.sin(i * 0.731 + 0.3))).reshape(shape);

test('two-pass reductions with SIMD-group functions match the CPU', () => {
  const x = smooth([3, 12000]);
  const f = (a: NDArray) => [np.add(np.sum(np.square(a), { axis: 1 }), np.min(a, { axis: 1 })), nn.logsumexp(a), np.max(np.greater(a, 0.99999), { axis: 1 })];
  const got = jit(f)(devicePut(x, 'metal'));
  const want = jit(f)(devicePut(x, 'cpu'));
  got.forEach((g, i) => {
    expect(g.device).toBe('metal');
    const [gv, wv] = [Array.from(g.data()), Array.from(want[i].data())];
    gv.forEach((v, j) => expect(Math.abs(v - wv[j])).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(wv[j]))));
  });
  expect(addon.sources().filter((src) => /pass 1 of 2: .*SIMD-group functions/.test(src)).length).toBeGreaterThanOrEqual(3);
});
