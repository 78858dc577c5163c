/**
 * @file Convolution and pooling against float64 direct loops: layouts, strides, every padding form,
 * input and kernel dilation, feature groups; jit ≡ eager; gradients vs finite differences; vmap vs
 * a loop; argument errors.
 */

import { grad, jit, lax, nn, numpy as np, NDArray, vmap } from 'metalgrad';
import { expectClose, rng } from './util';

type Pads = [number, number][];

interface Dense {
  shape: number[];
  data: Float64Array;
}

function randomArray(shape: number[], seed: number): NDArray {
  const rand = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return np.array(Float32Array.from({ length: n }, () => rand(-1, 1))).reshape(shape);
}

const toDense = (x: NDArray): Dense => ({ shape: x.shape, data: Float64Array.from(x.data()) });

/** Direct 2-D convolution, x NHWC, w HWIO (I = C / groups), explicit pads after lhs dilation. */
function convRef(x: Dense, w: Dense, strides: number[], pads: Pads, rhsDil: number[], lhsDil: number[], groups: number): Dense {
  const [N, H, W, C] = x.shape;
  const [KH, KW, I, O] = w.shape;
  const Hd = (H - 1) * lhsDil[0] + 1;
  const Wd = (W - 1) * lhsDil[1] + 1;
  const OH = Math.max(Math.floor((Hd + pads[0][0] + pads[0][1] - ((KH - 1) * rhsDil[0] + 1)) / strides[0]) + 1, 0);
  const OW = Math.max(Math.floor((Wd + pads[1][0] + pads[1][1] - ((KW - 1) * rhsDil[1] + 1)) / strides[1]) + 1, 0);
  const out = new Float64Array(N * OH * OW * O);
  const perGroup = O / groups;
  for (let n = 0; n < N; n++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++)
        for (let o = 0; o < O; o++) {
          const g = Math.floor(o / perGroup);
          let acc = 0;
          for (let kh = 0; kh < KH; kh++)
            for (let kw = 0; kw < KW; kw++) {
              const ph = oh * strides[0] + kh * rhsDil[0] - pads[0][0];
              const pw = ow * strides[1] + kw * rhsDil[1] - pads[1][0];
              if (ph < 0 || pw < 0 || ph >= Hd || pw >= Wd || ph % lhsDil[0] || pw % lhsDil[1]) continue;
              const ih = ph / lhsDil[0];
              const iw = pw / lhsDil[1];
              for (let i = 0; i < I; i++) acc += x.data[((n * H + ih) * W + iw) * C + g * I + i] * w.data[((kh * KW + kw) * I + i) * O + o];
            }
          out[((n * OH + oh) * OW + ow) * O + o] = acc;
        }
  return { shape: [N, OH, OW, O], data: out };
}

function expectDense(actual: NDArray, want: Dense, tol = 1e-5): void {
  expect(actual.shape).toEqual(want.shape);
  const got = actual.data();
  want.data.forEach((w, i) => {
    if (Math.abs(got[i] - w) > tol * (1 + Math.abs(w))) throw new Error(`element ${i}: ${got[i]} vs ${w}`);
  });
}

const NHWC: [string, string, string] = ['NHWC', 'HWIO', 'NHWC'];

describe('convGeneralDilated', () => {
  const cases: { name: string; x: number[]; w: number[]; strides: number[]; pads: Pads; rhsDil?: number[]; lhsDil?: number[]; groups?: number }[] = [
    { name: '3x3, pad 1', x: [2, 5, 6, 3], w: [3, 3, 3, 4], strides: [1, 1], pads: [[1, 1], [1, 1]] },
    { name: 'strides 2x3, uneven pads, groups 2, kernel dilation', x: [1, 7, 7, 4], w: [3, 2, 2, 6], strides: [2, 3], pads: [[0, 2], [1, 0]], rhsDil: [1, 2], groups: 2 },
    { name: 'input dilation (transposed conv)', x: [2, 4, 5, 2], w: [2, 2, 2, 3], strides: [1, 1], pads: [[1, 1], [0, 1]], lhsDil: [2, 2] },
    { name: 'negative padding crops, depthwise', x: [1, 6, 6, 4], w: [3, 3, 1, 4], strides: [1, 1], pads: [[2, 0], [-1, 1]], rhsDil: [2, 1], groups: 4 },
    { name: '1x1 kernel', x: [3, 2, 3, 5], w: [1, 1, 5, 2], strides: [1, 1], pads: [[0, 0], [0, 0]] },
    { name: 'window larger than the input gives an empty output', x: [1, 2, 2, 1], w: [3, 3, 1, 1], strides: [1, 1], pads: [[0, 0], [0, 0]] },
  ];
  test.each(cases)('$name', ({ x: xs, w: ws, strides, pads, rhsDil = [1, 1], lhsDil = [1, 1], groups = 1 }) => {
    const x = randomArray(xs, 1);
    const w = randomArray(ws, 2);
    const f = (a: NDArray, b: NDArray) => lax.convGeneralDilated(a, b, strides, pads, { rhsDilation: rhsDil, lhsDilation: lhsDil, featureGroupCount: groups, dimensionNumbers: NHWC });
    const want = convRef(toDense(x), toDense(w), strides, pads, rhsDil, lhsDil, groups);
    expectDense(f(x, w), want);
    expectDense(jit(f)(x, w), want);
  });

  test("'SAME' and 'SAME_LOWER' pad as JAX (the extra element at the end, or at the start)", () => {
    const x = randomArray([1, 6, 5, 2], 3);
    const w = randomArray([2, 3, 2, 2], 4);
    // H: out 3, total (3-1)*2+2-6 = 0; W: out 3, total (3-1)*2+3-5 = 2 -> [1, 1]. Use stride 1 for an odd total.
    expectDense(lax.convGeneralDilated(x, w, [2, 2], 'SAME', { dimensionNumbers: NHWC }), convRef(toDense(x), toDense(w), [2, 2], [[0, 0], [1, 1]], [1, 1], [1, 1], 1));
    expectDense(lax.convGeneralDilated(x, w, [1, 1], 'SAME', { dimensionNumbers: NHWC }), convRef(toDense(x), toDense(w), [1, 1], [[0, 1], [1, 1]], [1, 1], [1, 1], 1));
    expectDense(lax.convGeneralDilated(x, w, [1, 1], 'SAME_LOWER', { dimensionNumbers: NHWC }), convRef(toDense(x), toDense(w), [1, 1], [[1, 0], [1, 1]], [1, 1], [1, 1], 1));
    expectDense(lax.convGeneralDilated(x, w, [1, 1], 'VALID', { dimensionNumbers: NHWC }), convRef(toDense(x), toDense(w), [1, 1], [[0, 0], [0, 0]], [1, 1], [1, 1], 1));
  });

  test('NCHW/OIHW (lax.conv, nn.conv2d) equals NHWC/HWIO on transposed operands', () => {
    const x = randomArray([2, 3, 5, 5], 5);
    const w = randomArray([4, 3, 3, 3], 6);
    const nchw = lax.conv(x, w, [2, 2], 'SAME');
    expect(nchw.shape).toEqual([2, 4, 3, 3]);
    const nhwc = nn.conv2d(np.transpose(x, [0, 2, 3, 1]), np.transpose(w, [2, 3, 1, 0]), { strides: [2, 2], padding: 'SAME' });
    expectClose(np.transpose(nhwc, [0, 3, 1, 2]), nchw.toArray() as never, { rtol: 1e-5, atol: 1e-6 });
    expectClose(nn.conv2d(x, w, { strides: [2, 2], padding: 'SAME', dataFormat: 'NCHW' }), nchw.toArray() as never, { rtol: 0, atol: 0 });
  });

  test('1-D and 3-D convolutions', () => {
    const x1 = randomArray([2, 3, 9], 7);
    const w1 = randomArray([4, 3, 3], 8);
    const y1 = lax.convGeneralDilated(x1, w1, [2], [[1, 1]]);
    // As a 2-D conv with a unit H axis.
    const as2d = lax.convGeneralDilated(np.reshape(x1, [2, 3, 1, 9]), np.reshape(w1, [4, 3, 1, 3]), [1, 2], [[0, 0], [1, 1]]);
    expectClose(y1, np.reshape(as2d, [2, 4, 5]).toArray() as never, { rtol: 1e-6, atol: 1e-6 });
    const x3 = randomArray([1, 2, 3, 4, 4], 9);
    const w3 = randomArray([2, 2, 2, 2, 2], 10);
    expect(lax.convGeneralDilated(x3, w3, [1, 1, 1], 'VALID').shape).toEqual([1, 2, 2, 3, 3]);
  });

  test('gradients match finite differences (strided, padded, grouped, dilated)', () => {
    const x = randomArray([1, 5, 5, 4], 11);
    const w = randomArray([2, 3, 2, 4], 12);
    const loss = (a: NDArray, b: NDArray) =>
      np.sum(np.tanh(lax.convGeneralDilated(a, b, [2, 1], [[1, 0], [1, 1]], { rhsDilation: [1, 2], lhsDilation: [1, 1], featureGroupCount: 2, dimensionNumbers: NHWC })));
    const [gx, gw] = jit(grad(loss, { argnums: [0, 1] }))(x, w) as NDArray[];
    const check = (arg: 0 | 1, g: NDArray) => {
      const base = [x, w][arg];
      const data = Float32Array.from(base.data());
      const eps = 1e-2;
      for (let i = 0; i < data.length; i += 7) {
        const at = (d: number) => {
          const p = Float32Array.from(data);
          p[i] += d;
          const moved = np.array(p).reshape(base.shape);
          return (arg === 0 ? loss(moved, w) : loss(x, moved)).item();
        };
        expect(g.data()[i]).toBeCloseTo((at(eps) - at(-eps)) / (2 * eps), 2);
      }
    };
    check(0, gx);
    check(1, gw);
  });

  test('vmap over an extra leading axis equals a loop', () => {
    const xs = randomArray([3, 2, 4, 4, 2], 13);
    const w = randomArray([3, 3, 2, 2], 14);
    const f = (a: NDArray) => nn.conv2d(a, w, { padding: 'SAME' });
    const batched = vmap(f)(xs) as NDArray;
    for (let i = 0; i < 3; i++) expectClose(np.index(batched, i), f(np.index(xs, i)).toArray() as never, { rtol: 1e-6, atol: 1e-6 });
  });

  const errors: [string, () => unknown, RegExp][] = [
    ['a rank mismatch', () => lax.convGeneralDilated(np.zeros([1, 2, 3, 3]), np.zeros([2, 2, 3]), [1, 1], 'VALID'), /convGeneralDilated: argument `rhs` must have rank 4/],
    ['channels that do not match', () => nn.conv2d(np.zeros([1, 4, 4, 3]), np.zeros([2, 2, 2, 5])), /argument `rhs` has 2 input features per group, but lhs has 3 features/],
    ['a bad padding string', () => nn.conv2d(np.zeros([1, 4, 4, 2]), np.zeros([2, 2, 2, 5]), { padding: 'FULL' as never }), /argument `padding` must be 'SAME', 'SAME_LOWER', 'VALID' or 2 \[lo, hi\] integer pairs/],
    ['zero strides', () => nn.conv2d(np.zeros([1, 4, 4, 2]), np.zeros([2, 2, 2, 5]), { strides: [0, 1] }), /argument `windowStrides` must be an array of 2 positive integers/],
    ['a bad layout', () => lax.convGeneralDilated(np.zeros([1, 4, 4, 2]), np.zeros([2, 2, 2, 5]), [1, 1], 'VALID', { dimensionNumbers: ['NHWC', 'HWIX', 'NHWC'] }), /argument `dimensionNumbers.rhs` must be a string of 4 distinct letters with 'O' and 'I'/],
    ['output features not divisible by groups', () => nn.conv2d(np.zeros([1, 4, 4, 4]), np.zeros([2, 2, 2, 5]), { groups: 2 }), /has 5 output features, not divisible by featureGroupCount 2/],
    ['int operands', () => nn.conv2d(np.zeros([1, 4, 4, 2], { dtype: 'int32' }), np.zeros([2, 2, 2, 5])), /argument `lhs\/rhs` must be float32 arrays/],
  ];
  test.each(errors)('rejects %s', (_name, thunk, message) => {
    expect(thunk).toThrow(message);
  });
});

describe('pooling', () => {
  const x = np.astype(np.arange(2 * 4 * 5 * 3), 'float32').reshape([2, 4, 5, 3]);

  /** Direct pooling over NHWC with padding: max counts padding as -inf, mean as 0 (optionally not counted). */
  function poolRef(kind: 'max' | 'avg', a: Dense, win: number[], strides: number[], pads: Pads, includePad = true): Dense {
    const [N, H, W, C] = a.shape;
    const OH = Math.floor((H + pads[0][0] + pads[0][1] - win[0]) / strides[0]) + 1;
    const OW = Math.floor((W + pads[1][0] + pads[1][1] - win[1]) / strides[1]) + 1;
    const out = new Float64Array(N * OH * OW * C);
    for (let n = 0; n < N; n++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++)
          for (let c = 0; c < C; c++) {
            let acc = kind === 'max' ? -Infinity : 0;
            let count = 0;
            for (let i = 0; i < win[0]; i++)
              for (let j = 0; j < win[1]; j++) {
                const h = oh * strides[0] + i - pads[0][0];
                const w = ow * strides[1] + j - pads[1][0];
                if (h < 0 || w < 0 || h >= H || w >= W) continue;
                const v = a.data[((n * H + h) * W + w) * C + c];
                acc = kind === 'max' ? Math.max(acc, v) : acc + v;
                count++;
              }
            out[((n * OH + oh) * OW + ow) * C + c] = kind === 'max' ? acc : acc / (includePad ? win[0] * win[1] : count);
          }
    return { shape: [N, OH, OW, C], data: out };
  }

  test('maxPool and avgPool, VALID and SAME, strided, with and without counting the padding', () => {
    expectDense(nn.maxPool(x, [2, 2], { strides: [2, 2] }), poolRef('max', toDense(x), [2, 2], [2, 2], [[0, 0], [0, 0]]));
    expectDense(nn.maxPool(x, [3, 2], { padding: 'SAME' }), poolRef('max', toDense(x), [3, 2], [1, 1], [[1, 1], [0, 1]]));
    expectDense(nn.avgPool(x, [2, 3], { strides: [1, 2] }), poolRef('avg', toDense(x), [2, 3], [1, 2], [[0, 0], [0, 0]]));
    expectDense(nn.avgPool(x, [3, 3], { padding: 'SAME' }), poolRef('avg', toDense(x), [3, 3], [1, 1], [[1, 1], [1, 1]]));
    expectDense(nn.avgPool(x, [3, 3], { padding: 'SAME', countIncludePad: false }), poolRef('avg', toDense(x), [3, 3], [1, 1], [[1, 1], [1, 1]], false));
  });

  test('NCHW pooling equals NHWC on the transposed input; jit ≡ eager; gradients of max go to the maximum', () => {
    const nchw = np.transpose(x, [0, 3, 1, 2]);
    expectClose(np.transpose(nn.maxPool(nchw, [2, 2], { strides: [2, 2], dataFormat: 'NCHW' }), [0, 2, 3, 1]), nn.maxPool(x, [2, 2], { strides: [2, 2] }).toArray() as never, { rtol: 0, atol: 0 });
    const f = (a: NDArray) => nn.avgPool(nn.maxPool(a, [2, 2]), [2, 2], { padding: 'SAME' });
    expectClose(jit(f)(x), f(x).toArray() as never, { rtol: 1e-6, atol: 1e-6 });
    // x increases along every axis, so each window's maximum is its last element.
    const g = grad((a: NDArray) => np.sum(nn.maxPool(a, [2, 2], { strides: [2, 2] })))(x) as NDArray;
    const d = g.data();
    const at = (n: number, h: number, w: number, c: number) => d[((n * 4 + h) * 5 + w) * 3 + c];
    expect(at(0, 1, 1, 0)).toBe(1);
    expect(at(0, 0, 0, 0)).toBe(0);
    expect(at(1, 3, 3, 2)).toBe(1);
    expect(Array.from(d).reduce((s, v) => s + v, 0)).toBe(2 * 2 * 2 * 3);
  });

  test('rejects a window of the wrong rank and bad options', () => {
    expect(() => nn.maxPool(x, [2])).toThrow(/maxPool: argument `x` must have rank 3 \(batch, 1 spatial, features\) for a 1-D window/);
    expect(() => nn.avgPool(x, [2, 0])).toThrow(/avgPool: argument `windowShape` must be an array of 2 positive integers/);
    expect(() => nn.maxPool(x, [2, 2], { dataFormat: 'NWHC' as never })).toThrow(/maxPool: argument `dataFormat` must be 'NHWC' or 'NCHW'/);
  });
});
