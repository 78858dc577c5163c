/**
 * @file random: threefry-2x32 against the Random123 known-answer vectors, keys/split/normal/uniform
 * against values JAX produces (jax_threefry_partitionable=True, the default since JAX 0.5), bits and
 * uniform bit for bit against an independent JS threefry, distribution checks (moments and
 * Kolmogorov-Smirnov) for every sampler, and behaviour under jit (one fused hash kernel) and vmap.
 */

import { Array as MgArray, grad, jit, numpy as np, random, vmap } from 'metalgrad';
import { bitsF32, erf } from './reference';

const u32 = (x: number) => np.array(x, { dtype: 'uint32' });
const values = (x: MgArray): number[] => Array.from(x.data(), Number);

// ---------------------------------------------------------------------------------------------
// An independent JS threefry-2x32 (20 rounds) and the partitionable counter layout.

function rotl(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}

function refThreefry(k0: number, k1: number, x0: number, x1: number): [number, number] {
  const ks = [k0 >>> 0, k1 >>> 0, (k0 ^ k1 ^ 0x1bd11bda) >>> 0];
  const rot = [[13, 15, 26, 6], [17, 29, 16, 24]];
  let a = (x0 + ks[0]) >>> 0;
  let b = (x1 + ks[1]) >>> 0;
  for (let g = 0; g < 5; g++) {
    for (const r of rot[g % 2]) {
      a = (a + b) >>> 0;
      b = (rotl(b, r) ^ a) >>> 0;
    }
    a = (a + ks[(g + 1) % 3]) >>> 0;
    b = (b + ks[(g + 2) % 3] + g + 1) >>> 0;
  }
  return [a, b];
}

/** jax.random.bits(key, shape) for n elements: element i hashes the counter (0, i), words xored. */
const refBits = (key: number[], n: number): number[] =>
  Array.from({ length: n }, (_, i) => {
    const [a, b] = refThreefry(key[0], key[1], 0, i);
    return (a ^ b) >>> 0;
  });

/** jax.random.uniform's float32 arithmetic on those bits. */
const refUniform = (key: number[], n: number, lo: number, hi: number): number[] =>
  refBits(key, n).map((b) => {
    const f = Math.fround(bitsF32(((b >>> 9) | 0x3f800000) >>> 0) - 1);
    const v = Math.fround(Math.fround(f * Math.fround(hi - lo)) + lo);
    return Math.max(Math.fround(lo), v);
  });

// ---------------------------------------------------------------------------------------------
// Statistics helpers.

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const variance = (v: number[]) => {
  const m = mean(v);
  return v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length;
};
const normalCdf = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));

/** Kolmogorov-Smirnov statistic of samples against a CDF. */
function ksStatistic(samples: number[], cdf: (x: number) => number): number {
  const s = [...samples].sort((a, b) => a - b);
  let d = 0;
  s.forEach((x, i) => {
    const f = cdf(x);
    d = Math.max(d, Math.abs(f - i / s.length), Math.abs((i + 1) / s.length - f));
  });
  return d;
}
/** The KS critical value at significance 0.001 (the seeds are fixed, so this is a quality bar). */
const ksCritical = (n: number) => 1.95 / Math.sqrt(n);

/** |observed - expected| within 5 standard deviations of a binomial count. */
function expectBinomial(count: number, n: number, p: number): void {
  const sd = Math.sqrt(n * p * (1 - p));
  expect(Math.abs(count - n * p)).toBeLessThanOrEqual(5 * sd + 1);
}

// ---------------------------------------------------------------------------------------------

describe('threefry2x32', () => {
  // Random123's known-answer vectors for threefry2x32_20 (also checked by JAX's random tests).
  const KAT: [number[], number[], number[]][] = [
    [[0, 0], [0, 0], [0x6b200159, 0x99ba4efe]],
    [[0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x1cb996fc, 0xbb002be7]],
    [[0x13198a2e, 0x03707344], [0x243f6a88, 0x85a308d3], [0xc4923a9c, 0x483df7a0]],
  ];
  test.each(KAT)('key %j, counter %j', (key, ctr, expected) => {
    const run = (k0: MgArray, k1: MgArray, x0: MgArray, x1: MgArray) => random.threefry2x32(k0, k1, x0, x1);
    for (const out of [run(u32(key[0]), u32(key[1]), u32(ctr[0]), u32(ctr[1])), jit(run)(u32(key[0]), u32(key[1]), u32(ctr[0]), u32(ctr[1]))]) {
      expect(out.map((x) => x.item())).toEqual(expected);
    }
    expect(refThreefry(key[0], key[1], ctr[0], ctr[1])).toEqual(expected);
  });

  test('vectorised over counters', () => {
    const x1 = np.array([0, 1, 2, 3, 0x85a308d3], { dtype: 'uint32' });
    const [a, b] = random.threefry2x32(u32(0x13198a2e), u32(0x03707344), u32(0x243f6a88), x1);
    values(x1).forEach((c, i) => expect([values(a)[i], values(b)[i]]).toEqual(refThreefry(0x13198a2e, 0x03707344, 0x243f6a88, c)));
  });
});

/**
 * `v` is the float32 that numpy printed as `printed` (precision 8, 'maxprec'): the shortest
 * round-trip decimal when it has at most 8 fractional digits, else rounded to 8 (then trailing
 * zeros dropped).
 */
function expectPrinted(v: number, printed: number): void {
  if (Math.fround(printed) === v) return;
  expect(Number(v.toFixed(8))).toBe(printed);
}

describe('keys match JAX (jax_threefry_partitionable=True)', () => {
  test('key(seed) is the raw [0, seed] of jax.random.PRNGKey', () => {
    const k = random.key(0);
    expect([k.dtype, k.shape, k.toArray()]).toEqual(['uint32', [2], [0, 0]]);
    expect(random.key(42).toArray()).toEqual([0, 42]);
    expect(random.key(-1).toArray()).toEqual([0, 4294967295]);
    expect(random.key(2 ** 32 + 7).toArray()).toEqual([0, 7]);
    expect(random.PRNGKey(1701).toArray()).toEqual([0, 1701]);
    expect(jit((s: MgArray) => random.key(s))(np.array(5, { dtype: 'int32' })).toArray()).toEqual([0, 5]);
  });

  test('split values are those JAX produces', () => {
    expect(random.split(random.key(0)).toArray()).toEqual([[1797259609, 2579123966], [928981903, 3453687069]]);
    expect(random.split(random.key(1)).toArray()).toEqual([[507451445, 1853169794], [1948878966, 4237131848]]);
    expect(random.split(random.key(2)).toArray()).toEqual([[1821159224, 3364244817], [637334850, 3278974502]]);
    expect(random.split(random.key(0), 3).toArray()).toEqual([[1797259609, 2579123966], [928981903, 3453687069], [4146024105, 2718843009]]);
    const first = random.split(random.key(0)).toArray() as number[][];
    expect(random.split(np.array(first[0], { dtype: 'uint32' })).toArray()).toEqual([[4165894930, 804218099], expect.any(Array)]);
  });

  test('split to a shape, under jit and vmap', () => {
    const k = random.key(7);
    const s = random.split(k, [2, 3]);
    expect(s.shape).toEqual([2, 3, 2]);
    expect(np.reshape(s, [6, 2]).toArray()).toEqual(random.split(k, 6).toArray());
    expect(jit((x: MgArray) => random.split(x, 4))(k).toArray()).toEqual(random.split(k, 4).toArray());
    const keys = random.split(k, 3);
    const batched = vmap((x: MgArray) => random.split(x))(keys);
    expect(batched.shape).toEqual([3, 2, 2]);
    (keys.toArray() as number[][]).forEach((row, i) => expect((batched.toArray() as number[][][])[i]).toEqual(random.split(np.array(row, { dtype: 'uint32' })).toArray()));
  });

  test('zero-size shapes', () => {
    const k = random.key(0);
    expect(random.split(k, 0).shape).toEqual([0, 2]);
    expect(random.normal(k, [2, 0, 3]).shape).toEqual([2, 0, 3]);
    expect(random.bits(k, [0]).shape).toEqual([0]);
    expect(jit((x: MgArray) => random.uniform(x, [0, 4]))(k).shape).toEqual([0, 4]);
    expect(random.permutation(k, np.zeros([0, 3])).shape).toEqual([0, 3]);
  });

  test('foldIn hashes the counter (0, data), so it equals split(key, data + 1)[data]', () => {
    const k = random.key(3);
    for (const d of [0, 1, 17]) {
      expect(random.foldIn(k, d).toArray()).toEqual((random.split(k, d + 1).toArray() as number[][])[d]);
    }
    expect(random.foldIn(k, -1).toArray()).toEqual(refThreefry(0, 3, 0, 0xffffffff));
    expect(random.foldIn(k, np.array(17, { dtype: 'int32' })).toArray()).toEqual(random.foldIn(k, 17).toArray());
    expect(jit((x: MgArray, d: MgArray) => random.foldIn(x, d))(k, np.array(4, { dtype: 'uint32' })).toArray()).toEqual(random.foldIn(k, 4).toArray());
  });

  test('values from the JAX documentation', () => {
    // The jax.random module docs: uniform(key(0)), then uniform of the subkey of split(key(0)).
    expectPrinted(random.uniform(random.key(0)).item(), 0.947667);
    const sub = np.array((random.split(random.key(0)).toArray() as number[][])[1], { dtype: 'uint32' });
    expectPrinted(random.uniform(sub).item(), 0.00729382);
  });

  test('normal and uniform of split(key(0)) are the values JAX produces', () => {
    const [k1, k2] = (random.split(random.key(0)).toArray() as number[][]).map((r) => np.array(r, { dtype: 'uint32' }));
    const normal = [[1.0040143, -0.9063372, -0.7481722, -1.1713669], [-0.8712328, 0.58883816, 0.72392994, -1.0255982], [1.661628, -1.8910251, -1.2889339, 0.13360691], [-1.1530392, 0.23929629, 1.7448071, 0.5050189]];
    const uniform = [[0.00729382, 0.02089119, 0.5814265, 0.36183798], [0.22303772, 0.11928833, 0.12543893, 0.61683], [0.0950073, 0.9834225, 0.4248221, 0.8324801], [0.0966121, 0.22702086, 0.3545748, 0.67104137]];
    const f = (a: MgArray, b: MgArray) => [random.normal(a, [4, 4]), random.uniform(b, [4, 4])];
    for (const [n, u] of [f(k1, k2), jit(f)(k1, k2)]) {
      values(n).forEach((v, i) => expectPrinted(v, normal[i >> 2][i & 3]));
      values(u).forEach((v, i) => expectPrinted(v, uniform[i >> 2][i & 3]));
    }
  });
});

describe('bits and uniform, bit for bit', () => {
  test('bits match the JS threefry for several keys and shapes', () => {
    for (const [seed, shape] of [[0, [5]], [1701, [2, 3]], [123456789, [40]], [5, []]] as [number, number[]][]) {
      const k = random.key(seed);
      const b = random.bits(k, shape);
      expect([b.dtype, b.shape]).toEqual(['uint32', shape]);
      expect(values(b)).toEqual(refBits([0, seed], shape.reduce((a, c) => a * c, 1)));
      expect(values(jit((x: MgArray) => random.bits(x, shape))(k))).toEqual(values(b));
    }
  });

  test('uniform matches JAX float32 arithmetic, including array bounds', () => {
    const k = random.key(11);
    expect(values(random.uniform(k, [50]))).toEqual(refUniform([0, 11], 50, 0, 1));
    expect(values(random.uniform(k, [50], { minval: -3, maxval: 0.5 }))).toEqual(refUniform([0, 11], 50, -3, 0.5));
    const lo = np.array([0, 10, -5]);
    const hi = np.array([[1], [20]]);
    const u = random.uniform(k, [2, 3], { minval: lo, maxval: hi });
    const los = [0, 10, -5, 0, 10, -5];
    const his = [1, 1, 1, 20, 20, 20];
    const b = refBits([0, 11], 6);
    values(u).forEach((v, i) => {
      expect(v).toBeGreaterThanOrEqual(los[i]);
      const f = Math.fround(bitsF32(((b[i] >>> 9) | 0x3f800000) >>> 0) - 1);
      expect(v).toBe(Math.max(los[i], Math.fround(Math.fround(f * Math.fround(his[i] - los[i])) + los[i])));
    });
  });
});

describe('distributions', () => {
  const N = 20000;
  const key = random.key(2024);

  test('uniform: range, moments and KS', () => {
    const u = values(random.uniform(key, [N]));
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(Math.abs(mean(u) - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / N));
    expect(Math.abs(variance(u) - 1 / 12)).toBeLessThan(0.003);
    expect(ksStatistic(u, (x) => Math.min(1, Math.max(0, x)))).toBeLessThan(ksCritical(N));
  });

  test('normal: moments and KS, and jit is bit-identical to eager', () => {
    const x = random.normal(key, [N]);
    const v = values(x);
    expect(Math.abs(mean(v))).toBeLessThan(5 / Math.sqrt(N));
    expect(Math.abs(variance(v) - 1)).toBeLessThan(0.05);
    expect(ksStatistic(v, normalCdf)).toBeLessThan(ksCritical(N));
    expect(values(jit((k: MgArray) => random.normal(k, [N]))(key))).toEqual(v);
    expect(v.every(Number.isFinite)).toBe(true);
  });

  test('truncatedNormal: inside (lower, upper), KS against the truncated CDF', () => {
    for (const [lo, hi] of [[-0.3, 0.3], [-2, 1], [1, 4]]) {
      const v = values(random.truncatedNormal(key, lo, hi, [N]));
      expect(Math.min(...v)).toBeGreaterThan(Math.fround(lo));
      expect(Math.max(...v)).toBeLessThan(Math.fround(hi));
      const z = normalCdf(hi) - normalCdf(lo);
      expect(ksStatistic(v, (t) => (normalCdf(t) - normalCdf(lo)) / z)).toBeLessThan(ksCritical(N));
    }
    const t = random.truncatedNormal(key, np.array([-1, 0]), np.array([[1], [2]]));
    expect(t.shape).toEqual([2, 2]);
    const tv = values(t);
    expect([tv[0] > -1 && tv[0] < 1, tv[1] > 0 && tv[1] < 1, tv[2] > -1 && tv[2] < 2, tv[3] > 0 && tv[3] < 2]).toEqual([true, true, true, true]);
    // Infinite bounds clamp to the finite range.
    expect(values(random.truncatedNormal(key, -Infinity, Infinity, [1000])).every(Number.isFinite)).toBe(true);
  });

  test('bernoulli: frequencies match p', () => {
    for (const p of [0.1, 0.5, 0.9]) {
      const b = random.bernoulli(key, p, [N]);
      expect(b.dtype).toBe('bool');
      expectBinomial(values(b).reduce((a, c) => a + c, 0), N, p);
    }
    const ps = np.array([0.2, 0.7]);
    const b = random.bernoulli(key, ps, [N, 2]);
    const v = values(b);
    expectBinomial(v.filter((_, i) => i % 2 === 0).reduce((a, c) => a + c, 0), N, 0.2);
    expectBinomial(v.filter((_, i) => i % 2 === 1).reduce((a, c) => a + c, 0), N, 0.7);
    expect(random.bernoulli(key, ps).shape).toEqual([2]);
    expect(values(random.bernoulli(key, 0, [100])).every((x) => x === 0)).toBe(true);
    expect(values(random.bernoulli(key, 1, [100])).every((x) => x === 1)).toBe(true);
  });

  test('categorical: frequencies match softmax(logits), along either axis', () => {
    const p = [0.1, 0.2, 0.3, 0.4];
    const logits = np.subtract(np.log(np.array(p)), 42);
    const c = random.categorical(key, logits, { shape: [N] });
    expect([c.dtype, c.shape]).toEqual(['int32', [N]]);
    const v = values(c);
    p.forEach((pi, i) => expectBinomial(v.filter((x) => x === i).length, N, pi));
    // Categories along axis 0, two batch columns.
    const p2 = [[0.5, 0.1], [0.5, 0.9]];
    const c2 = random.categorical(key, np.log(np.array(p2)), { axis: 0, shape: [N / 2, 2] });
    expect(c2.shape).toEqual([N / 2, 2]);
    const v2 = values(c2);
    for (const col of [0, 1]) expectBinomial(v2.filter((x, i) => i % 2 === col && x === 1).length, N / 2, p2[1][col]);
    expect(random.categorical(key, np.zeros([3, 5])).shape).toEqual([3]);
    // Batch dimensions of size 1 broadcast: one row of logits drives every row of samples.
    const c3 = random.categorical(key, np.log(np.array([[0.25, 0.75]])), { shape: [N / 4, 4] });
    expect(c3.shape).toEqual([N / 4, 4]);
    expectBinomial(values(c3).filter((x) => x === 1).length, N, 0.75);
  });

  test('randint follows JAX: two words of bits reduced modulo the span, in uint32 arithmetic', () => {
    const ref = (seed: number, n: number, lo: number, hi: number): number[] => {
      const k1 = refThreefry(0, seed, 0, 0);
      const k2 = refThreefry(0, seed, 0, 1);
      const higher = refBits(k1, n);
      const lower = refBits(k2, n);
      const span = hi <= lo ? 1 : (hi - lo) >>> 0;
      let mult = 65536 % span;
      mult = (Math.imul(mult, mult) >>> 0) % span;
      return higher.map((h, i) => lo + (((Math.imul(h % span, mult) >>> 0) + (lower[i] % span)) >>> 0) % span);
    };
    for (const [seed, lo, hi] of [[0, 0, 10], [7, -5, 1000003], [9, -2000000000, 2000000000]]) {
      expect(values(random.randint(random.key(seed), [64], lo, hi))).toEqual(ref(seed, 64, lo, hi));
    }
  });

  test('randint: range and uniform frequencies; maxval <= minval gives minval', () => {
    const r = random.randint(key, [N], -3, 4);
    expect(r.dtype).toBe('int32');
    const v = values(r);
    for (let i = -3; i < 4; i++) expectBinomial(v.filter((x) => x === i).length, N, 1 / 7);
    expect(values(random.randint(key, [10], 5, 5))).toEqual(Array(10).fill(5));
    expect(values(random.randint(key, [10], 5, 2))).toEqual(Array(10).fill(5));
    const big = values(random.randint(key, [1000], 0, 2 ** 32, { dtype: 'uint32' }));
    expect(Math.max(...big)).toBeGreaterThan(2 ** 31);
    const wide = values(random.randint(key, [1000], -(2 ** 31), 2 ** 31));
    expect(Math.min(...wide)).toBeLessThan(-(2 ** 30));
    expect(Math.max(...wide)).toBeGreaterThan(2 ** 30);
    const arr = random.randint(key, [2, 3], np.array([0, 10, 20], { dtype: 'int32' }), np.array([1, 12, 23], { dtype: 'int32' }));
    (arr.toArray() as number[][]).forEach((row) => row.forEach((x, j) => expect(x >= [0, 10, 20][j] && x < [1, 12, 23][j]).toBe(true)));
  });

  test('permutation: a permutation of n, and of an array along an axis', () => {
    const p = random.permutation(key, 100);
    expect(p.dtype).toBe('int32');
    const v = values(p);
    expect([...v].sort((a, b) => a - b)).toEqual([...Array(100).keys()]);
    expect(v).not.toEqual([...Array(100).keys()]);
    expect(values(jit((k: MgArray) => random.permutation(k, 100))(key))).toEqual(v);
    expect(random.permutation(key, 0).shape).toEqual([0]);
    expect(values(random.permutation(key, 1))).toEqual([0]);
    // A 1-D array is shuffled exactly as arange is.
    const x = np.multiply(np.arange(100), 1.5);
    expect(values(random.permutation(key, x))).toEqual(v.map((i) => i * 1.5));
    // Rows of a matrix stay intact; along axis 1 the columns move together.
    const m = np.reshape(np.arange(24, { dtype: 'float32' }), [6, 4]);
    const rows = random.permutation(key, m).toArray() as number[][];
    expect(rows.map((r) => r[0] / 4).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
    rows.forEach((r) => expect(r).toEqual([r[0], r[0] + 1, r[0] + 2, r[0] + 3]));
    const cols = random.permutation(key, m, { axis: 1 }).toArray() as number[][];
    cols.forEach((r, i) => expect(r.map((c) => c - 4 * i)).toEqual(cols[0]));
    expect([...cols[0]].sort()).toEqual([0, 1, 2, 3]);
    const perm6 = values(random.permutation(key, 6));
    expect(rows.map((r) => r[0] / 4)).toEqual(perm6);
    // Any dtype moves through the sort; vmap over the permuted array permutes every row alike.
    const flags = [true, false, false, true, true, false];
    expect(random.permutation(key, np.array(flags)).toArray()).toEqual(perm6.map((i) => flags[i]));
    const big = np.array([4000000000, 1, 2, 3, 4, 5], { dtype: 'uint32' });
    expect(values(random.permutation(key, big))).toEqual(perm6.map((i) => values(big)[i]));
    const batched = vmap((r: MgArray) => random.permutation(key, r))(m.T);
    expect(batched.toArray()).toEqual((m.T.toArray() as number[][]).map((r) => perm6.map((i) => r[i])));
  });

  /** JAX's _shuffle in JS: each round splits the key and stably sorts by fresh random bits. */
  function refPermutation(key: number[], n: number): number[] {
    let k = key;
    let x = [...Array(n).keys()];
    const rounds = Math.ceil((3 * Math.log(Math.max(1, n))) / Math.log(4294967295));
    for (let r = 0; r < rounds; r++) {
      const sub = refThreefry(k[0], k[1], 0, 1);
      k = refThreefry(k[0], k[1], 0, 0);
      const bits = refBits(sub, n);
      x = x.map((v, i) => [bits[i], i, v]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((t) => t[2]);
    }
    return x;
  }

  test('permutation is JAX\'s sort-based shuffle, bit for bit (one round, and two above 1625 elements)', () => {
    for (const [seed, n] of [[0, 100], [1, 1000], [1, 2000], [5, 3]]) {
      const v = values(random.permutation(random.key(seed), n));
      expect(v).toEqual(refPermutation([0, seed], n));
    }
  });

  test('permutation scales to dataset sizes', () => {
    const n = 30000;
    const v = values(random.permutation(random.key(3), n));
    expect(v).toEqual(refPermutation([0, 3], n));
  });
});

describe('transformations', () => {
  test('vmap over split keys equals a loop, and jit(vmap) equals it too', () => {
    const keys = random.split(random.key(0), 8);
    const f = (k: MgArray) => random.normal(k, [3]);
    const batched = vmap(f)(keys);
    expect(batched.shape).toEqual([8, 3]);
    const loop = (keys.toArray() as number[][]).map((k) => values(f(np.array(k, { dtype: 'uint32' }))));
    expect(batched.toArray()).toEqual(loop);
    expect(jit(vmap(f))(keys).toArray()).toEqual(loop);
  });

  test('vmap over distribution parameters equals a loop', () => {
    const k = random.key(5);
    const lo = np.array([0, 10, -3]);
    const u = vmap((m: MgArray) => random.uniform(k, [4], { minval: m, maxval: np.add(m, 1) }))(lo);
    expect(u.toArray()).toEqual(values(lo).map((m) => values(random.uniform(k, [4], { minval: m, maxval: m + 1 }))));
    const ps = np.array([0.1, 0.9]);
    const b = vmap((p: MgArray) => random.bernoulli(k, p, [50]))(ps);
    expect(b.toArray()).toEqual(values(ps).map((p) => random.bernoulli(k, p, [50]).toArray()));
    const t = vmap((l: MgArray) => random.truncatedNormal(k, l, 2, [5]))(np.array([-1, 0.5]));
    expect(t.toArray()).toEqual([-1, 0.5].map((l) => values(random.truncatedNormal(k, l, 2, [5]))));
  });

  test('the threefry hash fuses into one elementwise kernel under jit', () => {
    const lowered = jit((k: MgArray) => random.normal(k, [1000])).lower(random.key(0));
    const hashing = lowered.kernels.filter((k) => k.ops.includes('shift_left'));
    expect(hashing).toHaveLength(1);
    expect(hashing[0].ops.filter((op) => op === 'shift_left')).toHaveLength(20);
    expect(hashing[0].ops).toEqual(expect.arrayContaining(['xor', 'bitcast_convert_type', 'erf_inv']));
    expect(lowered.kernels.map((k) => k.ops).flat().filter((op) => op !== 'slice').length).toBe(hashing[0].ops.length);
  });

  test('permutation under vmap equals a loop, and is differentiable in the permuted array', () => {
    const keys = random.split(random.key(4), 3);
    const f = (k: MgArray) => random.permutation(k, 10);
    const loop = (keys.toArray() as number[][]).map((k) => values(f(np.array(k, { dtype: 'uint32' }))));
    expect(vmap(f)(keys).toArray()).toEqual(loop);
    const k = random.key(4);
    const x = np.arange(6, { dtype: 'float32' });
    const w = np.array([1, 10, 100, 1000, 10000, 100000]);
    // d/dx sum(permutation(x) * w) puts w[p] on the element that landed at position p.
    const perm = values(random.permutation(k, 6));
    const g = values(grad((y: MgArray) => np.sum(np.multiply(random.permutation(k, y), w)))(x));
    const expected = Array(6).fill(0);
    perm.forEach((src, p) => (expected[src] = values(w)[p]));
    expect(g).toEqual(expected);
  });

  test('random draws are constants to grad: d/dx sum(x * normal) = normal', () => {
    const k = random.key(9);
    const g = grad((x: MgArray) => np.sum(np.multiply(x, random.normal(k, [5]))))(np.ones([5]));
    expect(values(g)).toEqual(values(random.normal(k, [5])));
    const gt = grad((lo: MgArray) => np.sum(random.truncatedNormal(k, lo, 3, [4])))(np.array(-1));
    expect(Number.isFinite(gt.item())).toBe(true);
  });
});

describe('argument errors', () => {
  const k = random.key(0);
  test.each([
    ['a float key', () => random.normal(np.array([0, 0]), [2]), /random\.normal: argument `key` must be a PRNG key \(a uint32 array of shape \[2\].*received an array f32\[2\]/],
    ['a key of the wrong shape', () => random.split(np.array([1, 2, 3], { dtype: 'uint32' })), /random\.split: argument `key` must be a PRNG key.*u32\[3\]/],
    ['a JS array key', () => random.uniform([0, 0]), /random\.uniform: argument `key` must be a PRNG key.*a JS array of length 2/],
    ['a negative shape', () => random.normal(k, [2, -1]), /random\.normal: argument `shape` must be a shape \(an array of non-negative integers\)/],
    ['a fractional shape', () => random.bits(k, [1.5]), /random\.bits: argument `shape` must be a shape/],
    ['a non-integer seed', () => random.key(1.5), /random\.key: argument `seed` must be an integer/],
    ['a float seed array', () => random.key(np.array(1)), /random\.key: argument `seed` must be an integer.*f32\[\]/],
    ['p above 1', () => random.bernoulli(k, 1.5), /random\.bernoulli: argument `p` must be a probability in \[0, 1\], received 1\.5/],
    ['p negative in an array', () => random.bernoulli(k, np.array([0.5, -0.1])), /random\.bernoulli: argument `p` must be a probability in \[0, 1\], received -0\.1/],
    ['a shape that does not contain p', () => random.bernoulli(k, np.array([0.5, 0.5]), [3]), /random\.bernoulli: argument `shape` is \(3,\), but the parameter shapes/],
    ['uniform with an int dtype', () => random.uniform(k, [2], { dtype: 'int32' }), /random\.uniform: argument `dtype` must be a floating dtype/],
    ['bits with a float dtype', () => random.bits(k, [2], { dtype: 'float32' }), /random\.bits: argument `dtype` must be an unsigned dtype/],
    ['randint with a float dtype', () => random.randint(k, [2], 0, 5, { dtype: 'float32' }), /random\.randint: argument `dtype` must be an integer dtype/],
    ['randint with a fractional bound', () => random.randint(k, [2], 0, 5.5), /random\.randint: argument `maxval` must be an integer/],
    ['categorical of a scalar', () => random.categorical(k, 1), /random\.categorical: argument `logits` must be an array of rank >= 1/],
    ['categorical with a bad shape', () => random.categorical(k, np.zeros([3, 4]), { shape: [5, 2] }), /random\.categorical: argument `shape` is \(5, 2\), but the parameter shapes \(3,\) do not broadcast to it/],
    ['categorical with a bad axis', () => random.categorical(k, np.zeros([3, 4]), { axis: 2 }), /random\.categorical: argument `axis` is 2, out of range/],
    ['permutation of a float', () => random.permutation(k, 2.5), /random\.permutation: argument `x` must be a non-negative integer or an array of rank >= 1/],
    ['permutation of a scalar array', () => random.permutation(k, np.array(3)), /random\.permutation: argument `x` must be a non-negative integer or an array/],
    ['foldIn with a float', () => random.foldIn(k, 0.5), /random\.foldIn: argument `data` must be an integer/],
    ['split with a negative num', () => random.split(k, -2), /random\.split: argument `num` must be a shape/],
    ['options that are not an object', () => random.uniform(k, [2], 3 as never), /random\.uniform: argument `options` must be an options object/],
  ] as [string, () => unknown, RegExp][])('%s', (_name, run, message) => {
    expect(run).toThrow(message);
  });
});
