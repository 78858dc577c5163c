/**
 * @file The benchmark harness cannot silently rot: metalgrad's workload functions at tiny sizes against
 * float64 references, the cross-library check, figure conversions, record parsing, table and targets.
 * Correctness only; timing is measured by `npm run bench`, never here.
 */

import { errorLine } from '../bench/child';
import { checkResults, compareChecks } from '../bench/compare';
import { SIZES, W3_CHECK_STEPS, W3_LR, inputs, sample, sampleIndices, w1Reference, w4Reference } from '../bench/data';
import { type BenchRecord, RECORD_PREFIX, SKIP_PREFIX, figures, parseDriverOutput } from '../bench/records';
import { type Result, evaluateTargets, formatTable } from '../bench/report';
import { summarize } from '../bench/timing';
import { w1, w2, w3, w4, w5 } from '../bench/workloads';
import { NDArray } from 'metalgrad';

const tiny = SIZES.tiny;

function expectNear(actual: readonly number[], expected: readonly number[], tol: number): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    if (!(Math.abs(a - expected[i]) <= tol)) throw new Error(`value ${i} is ${a}, expected ${expected[i]} (tolerance ${tol})`);
  });
}

/** Float64 row-major matmul of `m×k` by `k×n`. */
function matmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) c[i * n + j] += a[i * k + p] * b[p * n + j];
  return c;
}

/** Float64 MLP training (ReLU, mean softmax cross-entropy, SGD) with hand-written backward; the losses of `steps` steps. */
function mlpLosses(dims: number[], batch: number, steps: number): number[] {
  const d = inputs.w3(dims, batch);
  const W = d.weights.map((w) => Float64Array.from(w));
  const b = d.biases.map((v) => Float64Array.from(v));
  const L = W.length;
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const hs: Float64Array[] = [Float64Array.from(d.x)];
    const zs: Float64Array[] = [];
    for (let l = 0; l < L; l++) {
      const z = matmul(hs[l], W[l], batch, dims[l], dims[l + 1]).map((v, i) => v + b[l][i % dims[l + 1]]);
      zs.push(z);
      hs.push(z.map((v) => Math.max(v, 0)));
    }
    const C = dims[L];
    const logits = zs[L - 1];
    let dz = new Float64Array(batch * C);
    let loss = 0;
    for (let i = 0; i < batch; i++) {
      const row = logits.subarray(i * C, (i + 1) * C);
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((acc, v) => acc + Math.exp(v - max), 0));
      for (let c = 0; c < C; c++) {
        loss -= (d.y[i * C + c] * (row[c] - lse)) / batch;
        dz[i * C + c] = (Math.exp(row[c] - lse) - d.y[i * C + c]) / batch;
      }
    }
    losses.push(loss);
    for (let l = L - 1; l >= 0; l--) {
      const [k, n] = [dims[l], dims[l + 1]];
      const dW = new Float64Array(k * n);
      const dh = new Float64Array(batch * k);
      for (let i = 0; i < batch; i++) {
        for (let p = 0; p < k; p++) {
          for (let j = 0; j < n; j++) {
            dW[p * n + j] += hs[l][i * k + p] * dz[i * n + j];
            dh[i * k + p] += dz[i * n + j] * W[l][p * n + j];
          }
        }
      }
      for (let j = 0; j < n; j++) for (let i = 0; i < batch; i++) b[l][j] -= W3_LR * dz[i * n + j];
      W[l] = W[l].map((v, i) => v - W3_LR * dW[i]);
      if (l > 0) dz = dh.map((v, i) => (zs[l - 1][i] > 0 ? v : 0));
    }
  }
  return losses;
}

describe('metalgrad workloads at tiny sizes', () => {
  test('W1: the tanh chain', () => {
    const p = w1(tiny.w1);
    const want = sample(Array.from(inputs.w1(tiny.w1), w1Reference));
    expectNear(p.check, want, 1e-5);
    const y = p.step();
    expect(y).toBeInstanceOf(NDArray);
    expectNear(sample((y as NDArray).data()), want, 1e-5);
  });

  test.each(tiny.w2)('W2: matmul %i', (n) => {
    const p = w2(n);
    const [a, b] = inputs.w2(n);
    const want = sample(matmul(a, b, n, n, n));
    expectNear(p.check, want, 1e-4 * n);
    expectNear(sample((p.step() as NDArray).data()), want, 1e-4 * n);
  });

  test('W3: MLP training steps follow a float64 reference, and keep training', () => {
    const { dims, batch } = tiny.w3;
    const p = w3(dims, batch);
    const want = mlpLosses(dims, batch, W3_CHECK_STEPS + 2);
    expectNear(p.check, want.slice(0, W3_CHECK_STEPS), 1e-5);
    expectNear([p.step() as number, p.step() as number], want.slice(W3_CHECK_STEPS), 1e-5);
  });

  test('W4: ten jitted ops, read back', () => {
    const p = w4(tiny.w4);
    const want = Array.from(inputs.w4(tiny.w4), w4Reference);
    expectNear(p.check, want, 1e-5);
    expectNear(Array.from(p.step() as Float32Array), want, 1e-5);
  });

  test('W5: eager adds', () => {
    const p = w5(tiny.w5.n, tiny.w5.ops);
    const [a, b] = inputs.w5(tiny.w5.n);
    const want = Array.from(a, (v, i) => v + tiny.w5.ops * b[i]);
    expectNear(p.check, want, 1e-5);
    expectNear(Array.from(p.step() as Float32Array), want, 1e-5);
  });
});

describe('harness', () => {
  test('inputs are deterministic and samples include both ends', () => {
    expect(inputs.w1(50)).toEqual(inputs.w1(50));
    expect(inputs.w2(4)[0]).not.toEqual(inputs.w2(4)[1]);
    expect(sampleIndices(1000, 5)).toEqual([0, 249, 499, 749, 999]);
    expect(sampleIndices(3)).toEqual([0, 1, 2]);
  });

  test('compareChecks accepts float32 noise and rejects other results', () => {
    const ref = [1, -2, 3.5];
    expect(compareChecks('W1', ref, [1 + 1e-7, -2, 3.5]).ok).toBe(true);
    expect(compareChecks('W1', ref, [1, -2, 3.6])).toEqual({ ok: false, detail: expect.stringContaining('sample 2 is 3.6') });
    expect(compareChecks('W1', ref, [1, -2, NaN]).ok).toBe(false);
    expect(compareChecks('W2', ref, [1, -2]).detail).toBe('2 sampled values, expected 3');
  });

  test('checkResults compares every result with metalgrad 1 thread for the same workload and size', () => {
    const rec = (library: BenchRecord['library'], threads: number, check?: number[], size = 256): BenchRecord => ({ workload: 'W2', library, threads, size, median: 1, best: 1, unit: 'GFLOP/s', ...(check ? { check } : {}) });
    const checked = checkResults([rec('openblas', 1), rec('metalgrad', 2, [1, 2]), rec('metalgrad', 1, [1, 2]), rec('jax-js', 1, [1, 2.5]), rec('tfjs-wasm', 1, [1, 2], 512), rec('onnxruntime', 2, [1, 2])]);
    expect(checked.map((r) => r.check)).toEqual([undefined, 'ok', 'reference', expect.stringMatching(/^MISMATCH: sample 1 is 2.5, metalgrad has 2/), 'unchecked: no metalgrad result', 'ok']);
    expect(checked.every((r) => !('check' in r) || typeof r.check === 'string')).toBe(true);
  });

  test('figures convert milliseconds per call to each unit', () => {
    const t = summarize([4, 2, 3]);
    expect(t).toEqual({ medianMs: 3, bestMs: 2, samples: 3 });
    expect(figures(t, 'GB/s', 6e6)).toEqual({ median: 2, best: 3 });
    expect(figures(t, 'us', 100)).toEqual({ median: 30, best: 20 });
    expect(figures(t, 'ms')).toEqual({ median: 3, best: 2 });
  });

  test('driver output is parsed from prefixed lines only', () => {
    const rec = { workload: 'W4', library: 'jax-js', threads: 1, median: 9, best: 8, unit: 'us' };
    const skip = { workload: 'W3', library: 'onnxruntime', reason: 'no training' };
    const out = `noise\n${RECORD_PREFIX}${JSON.stringify(rec)}\n${SKIP_PREFIX}${JSON.stringify(skip)}\n`;
    expect(parseDriverOutput(out)).toEqual({ records: [rec], skips: [skip] });
  });

  test('a failed program is summed up by its most telling line', () => {
    expect(errorLine('/x.js:3\nthrow e\n^\n\nTypeError: bad thing\n    at f (x.js:3)\n\nNode.js v20.0.0\n')).toBe('TypeError: bad thing');
    expect(errorLine('s.c:1:10: fatal error: cblas.h: No such file or directory\ncompilation terminated.\n')).toBe('s.c:1:10: fatal error: cblas.h: No such file or directory');
    expect(errorLine('npm error code ECONNREFUSED\nnpm error A complete log of this run can be found in: /x.log\n')).toBe('npm error code ECONNREFUSED');
    expect(errorLine('just this\n')).toBe('just this');
  });

  test('the table shows ratios and mismatches; targets are judged on the all-threads figures', () => {
    const r = (library: Result['library'], workload: Result['workload'], threads: number, median: number, unit: Result['unit'], check?: string, size?: number): Result =>
      ({ workload, library, threads, median, best: median, unit, ...(check ? { check } : {}), ...(size ? { size } : {}) });
    const results = [
      r('copy', 'W1', 2, 30, 'GB/s'),
      r('metalgrad', 'W1', 2, 27, 'GB/s', 'reference'),
      r('jax-js', 'W1', 2, 1, 'GB/s', 'MISMATCH: sample 0 is 5, metalgrad has 1'),
      r('openblas', 'W2', 2, 200, 'GFLOP/s', undefined, 1024),
      r('metalgrad', 'W2', 2, 150, 'GFLOP/s', 'reference', 1024),
      r('metalgrad', 'W3', 2, 2.5, 'ms', 'reference'),
      r('tfjs-wasm', 'W3', 1, 200, 'ms', 'ok'),
    ];
    const table = formatTable(results, [{ workload: 'W3', library: 'onnxruntime', reason: 'no training' }]);
    expect(table).toContain('90% of copy bandwidth (2 thr)');
    expect(table).toContain('metalgrad 27.0x faster (vs 2 thr)');
    expect(table).toContain('75% of OpenBLAS (2 thr)');
    expect(table).toContain('metalgrad 80.0x faster');
    expect(table).toContain('absent: no training');
    expect(table).toContain('!! RESULT MISMATCH: jax-js W1 (2 thr) sample 0 is 5');
    const targets = evaluateTargets(results, [1, 2], false);
    const met = (w: string, t: string): boolean | null | undefined => targets.find((x) => x.workload === w && x.target.includes(t))?.met;
    expect(met('W1', '85%')).toBe(true);
    expect(met('W2', '1024, 2 thr')).toBe(false);
    expect(met('W2', '1024, 1 thr')).toBe(null);
    expect(met('W3', '3 ms')).toBe(true);
    expect(met('W4', '3 us')).toBe(null);
    expect(evaluateTargets(results, [1, 2], true).find((x) => x.workload === 'W1')?.met).toBe(null);
  });
});
