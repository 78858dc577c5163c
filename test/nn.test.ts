/** @file nn: misuse of the activation options gives clear errors naming the function and argument. */

import { nn, numpy as np } from 'metalgrad';

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
    ['tanh of an object', () => nn.tanh({}), /^tanh: argument `x` must be an array/],
  ] as [string, () => unknown, RegExp][])('%s', (_name, thunk, message) => {
    expect(thunk).toThrow(message);
  });
});
