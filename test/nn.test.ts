/** @file nn: clear errors for misused activation options, and the initializers (variances, fans, keys, errors). */

import { Array as MgArray, jit, nn, numpy as np, random } from 'metalgrad';

describe('nn errors', () => {
  test.each([
    ['elu with a non-numeric alpha', () => nn.elu(np.ones([2]), { alpha: 'big' as unknown as number }), /^elu: argument `alpha` must be a finite number, received string "big"$/],
    ['elu with options that are not an object', () => nn.elu(np.ones([2]), 2 as unknown as { alpha: number }), /^elu: argument `options` must be an options object such as \{alpha\}, received number 2$/],
    ['leakyRelu with an infinite slope', () => nn.leakyRelu(np.ones([2]), { negativeSlope: Infinity }), /^leakyRelu: argument `negativeSlope` must be a finite number, received number Infinity$/],
    ['oneHot with a fractional numClasses', () => nn.oneHot(np.array([1, 2]), 2.5), /^oneHot: argument `numClasses` must be a non-negative integer, received number 2.5$/],
    ['oneHot with a bad dtype', () => nn.oneHot(np.array([1, 2]), 3, { dtype: 'float64' as 'float32' }), /^oneHot: argument `dtype` must be one of/],
    ['oneHot with an out-of-range axis', () => nn.oneHot(np.array([1, 2]), 3, { axis: 2 }), /^oneHot: argument `axis` is 2, out of range for an array of rank 2/],
    ['standardize with a bad epsilon', () => nn.standardize(np.ones([2, 2]), { epsilon: NaN }), /^standardize: argument `epsilon` must be a finite number, received number NaN$/],
    ['standardize with a bad mean', () => nn.standardize(np.ones([2, 2]), { mean: 'zero' }), /^standardize: argument `mean` must be an array/],
    ['softplus of a string', () => nn.softplus('x'), /^softplus: argument `x` must be an array/],
    ['gelu with a non-boolean approximate', () => nn.gelu(np.ones([2]), { approximate: 0 as unknown as boolean }), /^gelu: argument `approximate` must be a boolean, received number 0$/],
    ['tanh of an object', () => nn.tanh({}), /^tanh: argument `x` must be an array/],
  ] as [string, () => unknown, RegExp][])('%s', (_name, thunk, message) => {
    expect(thunk).toThrow(message);
  });
});

describe('nn.initializers', () => {
  const init = nn.initializers;
  const stats = (x: MgArray) => {
    const v = Array.from(x.data(), Number);
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
    return { mean, variance, maxAbs: Math.max(...v.map(Math.abs)), n: v.length };
  };

  test.each([
    ['glorotUniform', init.glorotUniform(), [64, 96], 2 / (64 + 96), Math.sqrt(6 / (64 + 96))],
    ['glorotNormal', init.glorotNormal(), [64, 96], 2 / (64 + 96), (2 * Math.sqrt(2 / (64 + 96))) / 0.8796256610342398],
    ['heNormal of a conv kernel', init.heNormal(), [3, 3, 16, 32], 2 / 144, (2 * Math.sqrt(2 / 144)) / 0.8796256610342398],
    ['heUniform of a conv kernel', init.heUniform(), [3, 3, 16, 32], 2 / 144, Math.sqrt(6 / 144)],
    ['lecunNormal', init.lecunNormal(), [128, 40], 1 / 128, (2 * Math.sqrt(1 / 128)) / 0.8796256610342398],
    ['lecunUniform', init.lecunUniform(), [128, 40], 1 / 128, Math.sqrt(3 / 128)],
    ['varianceScaling fanOut normal', init.varianceScaling(3, 'fanOut', 'normal'), [50, 120], 3 / 120, Infinity],
    ['glorotUniform with inAxis 0, outAxis 1 and a batch axis', init.glorotUniform({ inAxis: 1, outAxis: 2, batchAxis: [0] }), [4, 30, 70], 2 / 100, Math.sqrt(6 / 100)],
  ] as [string, nn.initializers.Initializer, number[], number, number][])('%s has the variance JAX gives it', (_name, f, shape, variance, bound) => {
    const x = f(random.key(0), shape);
    expect(x.shape).toEqual(shape);
    expect(x.dtype).toBe('float32');
    const s = stats(x);
    expect(Math.abs(s.mean)).toBeLessThan(4 * Math.sqrt(variance / s.n));
    expect(Math.abs(s.variance / variance - 1)).toBeLessThan(0.1);
    expect(s.maxAbs).toBeLessThanOrEqual(bound * (1 + 1e-6));
  });

  test('fans are computed from the shape as JAX does', () => {
    expect(init.computeFans('f', [3, 3, 16, 32], {})).toEqual([144, 288]);
    expect(init.computeFans('f', [5, 7], { inAxis: 1, outAxis: 0 })).toEqual([7, 5]);
    expect(init.computeFans('f', [2, 5, 7], { batchAxis: [0] })).toEqual([5, 7]);
    expect(init.computeFans('f', [2, 3, 5, 7], { inAxis: [0, 1], outAxis: -1 })).toEqual([30, 35]);
  });

  test('the same key gives the same weights, another key others; jit matches eager', () => {
    const f = init.heNormal();
    const a = f(random.key(1), [3, 4]);
    expect(Array.from(f(random.key(1), [3, 4]).data())).toEqual(Array.from(a.data()));
    expect(Array.from(f(random.key(2), [3, 4]).data())).not.toEqual(Array.from(a.data()));
    const jitted = jit((k: MgArray) => f(k, [3, 4]))(random.key(1));
    Array.from(jitted.data()).forEach((v, i) => expect(v).toBeCloseTo(Number(a.data()[i]), 6));
  });

  test('zeros, ones and constant', () => {
    const k = random.key(0);
    expect(init.zeros(k, [2, 3]).toArray()).toEqual([[0, 0, 0], [0, 0, 0]]);
    expect(init.ones(k, [2], 'int32').dtype).toBe('int32');
    expect(init.constant(0.5)(k, [2]).toArray()).toEqual([0.5, 0.5]);
    const n = init.normal(0.1)(k, [2000]);
    expect(Math.abs(Math.sqrt(stats(n).variance) / 0.1 - 1)).toBeLessThan(0.1);
    const u = stats(init.uniform(2)(k, [2000]));
    expect(u.maxAbs).toBeLessThan(2);
    expect(Math.abs(u.mean - 1)).toBeLessThan(0.1);
  });

  test.each([
    ['a rank-1 shape for glorotUniform', () => init.glorotUniform()(random.key(0), [5]), /^nn\.initializers\.glorotUniform: argument `shape` is \[5\]: fan-in and fan-out need a weights shape of rank at least 2$/],
    ['an int32 dtype for heNormal', () => init.heNormal()(random.key(0), [2, 2], 'int32'), /^nn\.initializers\.heNormal: argument `dtype` must be a floating-point dtype \('float32'\), received string "int32"$/],
    ['an unknown mode', () => init.varianceScaling(1, 'fan_in' as 'fanIn', 'normal'), /^nn\.initializers\.varianceScaling: argument `mode` must be one of 'fanIn', 'fanOut', 'fanAvg', received string "fan_in"$/],
    ['an out-of-range inAxis', () => init.glorotNormal({ inAxis: 3 })(random.key(0), [2, 2]), /^nn\.initializers\.glorotNormal: argument `inAxis` is 3, out of range/],
    ['a bad shape', () => init.zeros(random.key(0), [-1]), /^nn\.initializers\.zeros: argument `shape` must be/],
  ] as [string, () => unknown, RegExp][])('%s is a clear error', (_name, thunk, message) => {
    expect(thunk).toThrow(message);
  });
});
