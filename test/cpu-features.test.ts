/**
 * @file The CPU kernels' instruction-set report, and a fused chain with constants and a vectorised
 * transcendental (the W1 benchmark's shape) against a float64 reference, in several tiles.
 */

import { cpuFeatures, jit, NDArray, numpy as np } from 'metalgrad';
import { expectClose, rng } from './util';

describe('cpuFeatures', () => {
  it('names the chosen instruction set first, then the supported ones', () => {
    const report = cpuFeatures();
    const m = /^(generic|sse2|avx2|avx512) \(supported:((?: (?:generic|sse2|avx2|avx512))+)\)/.exec(report);
    expect(m).not.toBeNull();
    const supported = m![2].trim().split(' ');
    expect(supported[0]).toBe('generic');
    expect(supported).toContain(m![1]);
  });

  it('says whether fused elementwise kernels run as machine code', () => {
    const report = cpuFeatures();
    const jitPossible = process.platform === 'linux' && process.arch === 'x64' && report.startsWith('avx512 ');
    const want = jitPossible && process.env.METALGRAD_JIT !== '0' ? 'avx512' : 'off';
    expect(report.endsWith(`; jit: ${want}`)).toBe(true);
  });
});

describe('fused chain with constant operands', () => {
  it('matches float64 for ((tanh(x*1.5+2)*3+0.5) max 0)*0.7-0.1 over several tiles', () => {
    const rand = rng(4);
    const xs = Array.from({ length: 1500 }, () => rand(-6, 6));
    const f = jit((x: NDArray) =>
      np.subtract(np.multiply(np.maximum(np.add(np.multiply(np.tanh(np.add(np.multiply(x, 1.5), 2)), 3), 0.5), 0), 0.7), 0.1));
    const c = (v: number) => Math.fround(v);
    const want = xs.map((x) => Math.max(Math.tanh(x * 1.5 + 2) * 3 + 0.5, 0) * c(0.7) - c(0.1));
    expectClose(f(np.array(xs)), want, { rtol: 1e-5, atol: 1e-6 });
  });

  it('keeps constants that are outputs or feed non-binary ops', () => {
    const f = jit((x: NDArray) => {
      const two = np.full(x.shape, 2);
      return [np.multiply(np.subtract(2, x), 2), np.exp(two), two];
    });
    const [a, b, k] = f(np.array([0, 1, 5]));
    expectClose(a, [4, 2, -6]);
    expectClose(b, [Math.exp(2), Math.exp(2), Math.exp(2)]);
    expectClose(k, [2, 2, 2]);
  });
});
