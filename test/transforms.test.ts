/**
 * @file Compositions of transformations (grad, jvp, vjp, vmap, jit, jacobians), each checked against
 * derivatives worked out by hand and evaluated in JS float64.
 */

import { grad, hessian, jacfwd, jacrev, jit, jvp, lax, NDArray, nn, numpy as np, valueAndGrad, vjp, vmap } from 'metalgrad';
import { expectClose, matmulJS, randMatrix, randVector, rng, transposeJS } from './util';

const rand = rng(1234);

describe('higher-order grad', () => {
  // f = x^4 + 2x^3 - x; f' = 4x^3 + 6x^2 - 1; f'' = 12x^2 + 12x; f''' = 24x + 12.
  const f = (x: NDArray) => np.subtract(np.add(np.multiply(np.multiply(x, x), np.multiply(x, x)), np.multiply(2, np.power(x, 3))), x);

  test.each([-1.25, 0.5, 1.5])('derivatives of a polynomial up to third order at %p', (x) => {
    expect(grad(f)(x).item()).toBeCloseTo(4 * x ** 3 + 6 * x ** 2 - 1, 4);
    expect(grad(grad(f))(x).item()).toBeCloseTo(12 * x ** 2 + 12 * x, 4);
    expect(grad(grad(grad(f)))(x).item()).toBeCloseTo(24 * x + 12, 4);
  });

  test('grad(grad(sin)) is -sin and the fourth derivative returns to sin', () => {
    const x = 0.7;
    expect(grad(grad(np.sin))(x).item()).toBeCloseTo(-Math.sin(x), 5);
    expect(grad(grad(grad(grad(np.sin))))(x).item()).toBeCloseTo(Math.sin(x), 5);
  });

  test('grad of an array argument has the argument\'s shape', () => {
    const xs = [0.5, -1, 2];
    // d/dx sum(x^3) = 3x^2
    expectClose(grad((x: NDArray) => np.sum(np.power(x, 3)))(np.array(xs)), xs.map((v) => 3 * v * v));
  });
});

describe('vmap', () => {
  test('jit(vmap(grad(f))) evaluates the derivative elementwise', () => {
    // f = sin(x)·x; f' = cos(x)·x + sin(x)
    const df = jit(vmap(grad((x: NDArray) => np.multiply(np.sin(x), x))));
    const xs = [-2, -0.5, 0, 1, 3];
    expectClose(df(np.array(xs)), xs.map((x) => Math.cos(x) * x + Math.sin(x)));
  });

  test('vmap(vmap(f)) maps over two axes', () => {
    const a = randMatrix(rand, 3, 4);
    const b = randMatrix(rand, 3, 4);
    const f = (x: NDArray, y: NDArray) => np.add(np.multiply(x, y), np.sin(x));
    const out = vmap(vmap(f))(np.array(a), np.array(b));
    expectClose(out, a.map((r, i) => r.map((v, j) => v * b[i][j] + Math.sin(v))));
  });

  test('inAxes 1 and outAxes 1 map over columns and put the batch axis second', () => {
    const x = randMatrix(rand, 3, 4);
    // Per column c: 2c + sum(c), so out[i][j] = 2 x[i][j] + sum_i x[i][j].
    const colSums = transposeJS(x).map((c) => c.reduce((s, v) => s + v, 0));
    const expected = x.map((r) => r.map((v, j) => 2 * v + colSums[j]));
    const f = (c: NDArray) => np.add(np.multiply(c, 2), np.sum(c));
    expectClose(vmap(f, { inAxes: 1, outAxes: 1 })(np.array(x)), expected);
    // outAxes 0 gives the transpose.
    expectClose(vmap(f, { inAxes: 1 })(np.array(x)), transposeJS(expected));
  });

  test('negative inAxes and outAxes count from the end', () => {
    const x = randMatrix(rand, 2, 3);
    const out = vmap((r: NDArray) => np.multiply(r, 3), { inAxes: -1, outAxes: -1 })(np.array(x));
    expectClose(out, x.map((r) => r.map((v) => 3 * v)));
  });

  test('inAxes [null, 0, 0] broadcasts the unmapped argument', () => {
    const w = randVector(rand, 3);
    const xs = randMatrix(rand, 5, 3);
    const ys = randVector(rand, 5);
    const f = (wv: NDArray, x: NDArray, y: NDArray) => np.add(np.dot(wv, x), y);
    const out = vmap(f, { inAxes: [null, 0, 0] })(np.array(w), np.array(xs), np.array(ys));
    expectClose(out, xs.map((x, i) => x.reduce((s, v, k) => s + v * w[k], 0) + ys[i]));
  });

  test('inAxes as an object prefix {w: null, b: 0} maps only some leaves of a pytree argument', () => {
    const w = randVector(rand, 4);
    const b = randVector(rand, 6);
    const xs = randMatrix(rand, 6, 4);
    const f = (p: { w: NDArray; b: NDArray }, x: NDArray) => np.add(np.sum(np.multiply(p.w, x)), p.b);
    const out = vmap(f, { inAxes: [{ w: null, b: 0 }, 0] })({ w: np.array(w), b: np.array(b) }, np.array(xs));
    expectClose(out, xs.map((x, i) => x.reduce((s, v, k) => s + v * w[k], 0) + b[i]));
  });

  test('vmap over pytree arguments returns a pytree with the batch axis on every leaf', () => {
    const a = randVector(rand, 4);
    const b = randMatrix(rand, 4, 2);
    const f = (p: { a: NDArray; b: NDArray }) => ({ s: np.add(p.a, np.sum(p.b)), pair: [np.multiply(p.b, p.a), p.a] });
    const out = vmap(f)({ a: np.array(a), b: np.array(b) });
    expect(Object.keys(out).sort()).toEqual(['pair', 's']);
    expectClose(out.s, a.map((v, i) => v + b[i][0] + b[i][1]));
    expectClose(out.pair[0], b.map((r, i) => r.map((v) => v * a[i])));
    expectClose(out.pair[1], a);
  });

  test('an output that does not depend on the mapped input is broadcast along the batch axis', () => {
    const out = vmap((x: NDArray, c: NDArray) => [np.multiply(x, 2), c], { inAxes: [0, null] })(np.array([1, 2, 3]), np.array([7, 8]));
    expectClose(out[0], [2, 4, 6]);
    expectClose(out[1], [[7, 8], [7, 8], [7, 8]]);
  });

  test('outAxes per output leaf: [0, null] keeps an unmapped output unbatched', () => {
    const c = np.array([7, 8]);
    const [mapped, constant] = vmap((x: NDArray) => [np.multiply(x, x), c], { outAxes: [0, null] })(np.array([1, 2, 3]));
    expectClose(mapped, [1, 4, 9]);
    expectClose(constant, [7, 8]);
  });

  test('grad of a vmapped function sums the per-example derivatives', () => {
    // L(x) = Σ_j sum_i sin(x[i, j]) · x[0, j], mapped over columns j (inAxes 1).
    const x = randMatrix(rand, 2, 3);
    const perColumn = (c: NDArray) => np.multiply(np.sum(np.sin(c)), np.sum(np.multiply(c, np.array([1, 0]))));
    const g = grad((m: NDArray) => np.sum(vmap(perColumn, { inAxes: 1 })(m)))(np.array(x));
    // ∂/∂x[i,j] = cos(x[i,j])·x[0,j] + [i = 0]·Σ_k sin(x[k,j])
    const colSin = [0, 1, 2].map((j) => Math.sin(x[0][j]) + Math.sin(x[1][j]));
    expectClose(g, x.map((r, i) => r.map((v, j) => Math.cos(v) * x[0][j] + (i === 0 ? colSin[j] : 0))));
  });

  test('per-example gradients match a loop of grad over examples', () => {
    const w = randVector(rand, 3);
    const b = 0.3;
    const xs = randMatrix(rand, 6, 3);
    const ys = randVector(rand, 6);
    // Squared error of a linear model; d/dw = 2 r x, d/db = 2 r with r = w·x + b - y.
    const loss = (p: { w: NDArray; b: NDArray }, x: NDArray, y: NDArray) => np.square(np.subtract(np.add(np.dot(p.w, x), p.b), y));
    const params = { w: np.array(w), b: np.array(b) };
    const batched = vmap(grad(loss), { inAxes: [null, 0, 0] })(params, np.array(xs), np.array(ys));
    const residual = xs.map((x, i) => x.reduce((s, v, k) => s + v * w[k], 0) + b - ys[i]);
    expectClose(batched.w, xs.map((x, i) => x.map((v) => 2 * residual[i] * v)), { rtol: 1e-4, atol: 1e-5 });
    expectClose(batched.b, residual.map((r) => 2 * r), { rtol: 1e-4, atol: 1e-5 });
    xs.forEach((x, i) => {
      const g = grad(loss)(params, np.array(x), np.array(ys[i]));
      expectClose(g.w, (batched.w.toArray() as number[][])[i]);
      expectClose(g.b, (batched.b.toArray() as number[])[i]);
    });
  });
});

describe('jacobians and hessians', () => {
  // f: R^3 → R^2, f(x) = [sum(c · sin x), x0 x1 x2]; J = [[c_i cos x_i], [prod_{j≠i} x_j]].
  const c = [0.5, -2, 1.5];
  const f = (x: NDArray) => np.stack([np.sum(np.multiply(np.array(c), np.sin(x))), np.prod(x)]);
  const x = [0.3, -1.2, 2.0];
  const expectedJ = [c.map((ci, i) => ci * Math.cos(x[i])), x.map((_, i) => x.reduce((p, v, j) => (j === i ? p : p * v), 1))];

  test('jacrev and jacfwd agree with the analytic Jacobian', () => {
    expectClose(jacrev(f)(np.array(x)), expectedJ);
    expectClose(jacfwd(f)(np.array(x)), expectedJ);
  });

  test('jacobian of a matrix-valued function has shape [...out, ...in]', () => {
    // g(x) = outer(x, x): dg_ij/dx_k = δ_ik x_j + x_i δ_jk
    const g = (v: NDArray) => np.multiply(np.reshape(v, [3, 1]), np.reshape(v, [1, 3]));
    const J = x.map((_, i) => x.map((_, j) => x.map((_, k) => (i === k ? x[j] : 0) + (j === k ? x[i] : 0))));
    expectClose(jacrev(g)(np.array(x)), J);
    expectClose(jacfwd(g)(np.array(x)), J);
  });

  test('hessian of the quadratic form 0.5 xᵀAx is (A + Aᵀ)/2', () => {
    const A = randMatrix(rand, 4, 4);
    const At = transposeJS(A);
    const q = (v: NDArray) => np.multiply(0.5, np.dot(v, np.matmul(np.array(A), v)));
    const H = hessian(q)(np.array(randVector(rand, 4)));
    expectClose(H, A.map((r, i) => r.map((v, j) => (v + At[i][j]) / 2)));
  });

  test('hessian of a non-quadratic function: sum(x)·sum(x²)', () => {
    // H_ij = 2 x_i + 2 x_j + 2 δ_ij sum(x)
    const h = (v: NDArray) => np.multiply(np.sum(v), np.sum(np.square(v)));
    const s = x.reduce((a, b) => a + b, 0);
    expectClose(hessian(h)(np.array(x)), x.map((xi, i) => x.map((xj, j) => 2 * xi + 2 * xj + (i === j ? 2 * s : 0))), { rtol: 1e-4, atol: 1e-5 });
  });

  test('vmap of jacrev gives one Jacobian per example', () => {
    const xs = randMatrix(rand, 4, 3);
    const jacs = vmap(jacrev(f))(np.array(xs));
    expectClose(
      jacs,
      xs.map((xv) => [c.map((ci, i) => ci * Math.cos(xv[i])), xv.map((_, i) => xv.reduce((p, v, j) => (j === i ? p : p * v), 1))]),
    );
  });

  test('jacrev with argnums [0, 1] returns one Jacobian per argument', () => {
    // m(a, b) = a * b (elementwise, R^2 × R^2 → R^2): ∂/∂a = diag(b), ∂/∂b = diag(a)
    const [ja, jb] = jacrev((a: NDArray, b: NDArray) => np.multiply(a, b), { argnums: [0, 1] })(np.array([2, 3]), np.array([5, 7]));
    expectClose(ja, [[5, 0], [0, 7]]);
    expectClose(jb, [[2, 0], [0, 3]]);
  });
});

describe('pytrees through grad, valueAndGrad, vjp and jvp', () => {
  test('grad through nested params returns the same structure', () => {
    const params = { layers: [{ w: np.array([1, 2]), b: np.array(0.5) }, { w: np.array([-1, 3]), b: np.array(-2) }], scale: np.array(2) };
    // L = scale · Σ_layers (sum(w²) + b)
    const loss = (p: typeof params) => np.multiply(p.scale, np.add(...p.layers.map((l) => np.add(np.sum(np.square(l.w)), l.b)) as [NDArray, NDArray]));
    const g = grad(loss)(params);
    expect(Object.keys(g).sort()).toEqual(['layers', 'scale']);
    expect(g.layers).toHaveLength(2);
    expectClose(g.layers[0].w, [4, 8]);
    expectClose(g.layers[0].b, 2);
    expectClose(g.layers[1].w, [-4, 12]);
    expectClose(g.layers[1].b, 2);
    expectClose(g.scale, 5 + 0.5 + 10 - 2);
  });

  test('valueAndGrad with a number argnums and with an array argnums', () => {
    // f = x²y + sin(y): ∂x = 2xy, ∂y = x² + cos y
    const f = (x: NDArray, y: NDArray) => np.add(np.multiply(np.square(x), y), np.sin(y));
    const [v1, gy] = valueAndGrad(f, { argnums: 1 })(2, 0.5);
    expect(v1.item()).toBeCloseTo(4 * 0.5 + Math.sin(0.5), 5);
    expect(gy.item()).toBeCloseTo(4 + Math.cos(0.5), 5);
    const [v2, grads] = valueAndGrad(f, { argnums: [0, 1] })(2, 0.5);
    expect(v2.item()).toBeCloseTo(v1.item(), 6);
    expect(Array.isArray(grads)).toBe(true);
    expect(grads).toHaveLength(2);
    expect(grads[0].item()).toBeCloseTo(2, 5);
    expect(grads[1].item()).toBeCloseTo(4 + Math.cos(0.5), 5);
    // A one-element argnums array still gives a list.
    const [, g1] = valueAndGrad(f, { argnums: [1] })(2, 0.5);
    expect(g1).toHaveLength(1);
    expect(g1[0].item()).toBeCloseTo(4 + Math.cos(0.5), 5);
  });

  test('valueAndGrad with hasAux returns [[value, aux], grads]', () => {
    const f = (x: NDArray) => [np.sum(np.square(x)), { doubled: np.multiply(x, 2), n: 3 }];
    const [[value, aux], g] = valueAndGrad(f, { hasAux: true })(np.array([1, 2]));
    expect(value.item()).toBeCloseTo(5, 6);
    expectClose(aux.doubled, [2, 4]);
    expect(aux.n).toBeInstanceOf(NDArray);
    expect(aux.n.item()).toBe(3);
    expectClose(g, [2, 4]);
  });

  test('grad with hasAux returns [grads, aux]', () => {
    const f = (x: NDArray) => [np.sum(np.exp(x)), np.exp(x)];
    const xs = [0, 1];
    const [g, aux] = grad(f, { hasAux: true })(np.array(xs));
    expectClose(g, xs.map(Math.exp));
    expectClose(aux, xs.map(Math.exp));
  });

  test('vjp returns one cotangent per primal for a pytree output', () => {
    const f = (x: NDArray, y: NDArray) => ({ prod: np.multiply(x, y), total: np.sum(np.sin(x)) });
    const xv = [0.5, -1];
    const yv = [2, 3];
    const [out, pullback] = vjp(f, np.array(xv), np.array(yv));
    expectClose(out.prod, [1, -3]);
    expectClose(out.total, Math.sin(0.5) + Math.sin(-1));
    const ct = { prod: np.array([1, 10]), total: np.array(2) };
    const cts = pullback(ct);
    expect(cts).toHaveLength(2);
    // ∂/∂x: ct.prod · y + ct.total · cos x;  ∂/∂y: ct.prod · x
    expectClose(cts[0], [1 * 2 + 2 * Math.cos(0.5), 10 * 3 + 2 * Math.cos(-1)]);
    expectClose(cts[1], [0.5, -10]);
  });

  test('vjp with pytree primals returns cotangents of the same structure', () => {
    const f = (p: { a: NDArray; b: NDArray[] }) => np.add(np.multiply(p.a, p.b[0]), p.b[1]);
    const [, pullback] = vjp(f, { a: np.array([1, 2]), b: [np.array([3, 4]), np.array([5, 6])] });
    const [ct] = pullback(np.array([1, -1]));
    expectClose(ct.a, [3, -4]);
    expectClose(ct.b[0], [1, -2]);
    expectClose(ct.b[1], [1, -1]);
  });

  test('jvp with pytree primals and tangents', () => {
    // f(p) = {u: a·b, v: [exp(a)]}; df = {u: da·b + a·db, v: [exp(a)·da]}
    const f = (p: { a: NDArray; b: NDArray }) => ({ u: np.multiply(p.a, p.b), v: [np.exp(p.a)] });
    const [out, tan] = jvp(f, [{ a: np.array([0, 1]), b: np.array([2, 3]) }], [{ a: np.array([1, 0.5]), b: np.array([-1, 2]) }]);
    expectClose(out.u, [0, 3]);
    expectClose(out.v[0], [1, Math.E]);
    expectClose(tan.u, [1 * 2 + 0 * -1, 0.5 * 3 + 1 * 2]);
    expectClose(tan.v[0], [1, Math.E * 0.5]);
  });

  test('jvp of an output that does not depend on the input gives a zero tangent', () => {
    const [out, tan] = jvp((x: NDArray) => [np.sin(x), np.ones([2])], [np.array(1)], [np.array(1)]);
    expect(out[1].shape).toEqual([2]);
    expectClose(tan[0], Math.cos(1));
    expectClose(tan[1], [0, 0]);
  });
});

describe('jit composed with differentiation', () => {
  // A two-class softmax classifier: loss = mean_n CE(softmax(x_n W), y_n).
  const N = 5;
  const D = 3;
  const C = 4;
  const xs = randMatrix(rand, N, D);
  const W = randMatrix(rand, D, C);
  const labels = [0, 3, 1, 2, 3];
  const onehot = labels.map((l) => Array.from({ length: C }, (_, k) => (k === l ? 1 : 0)));
  const loss = (w: NDArray, x: NDArray, y: NDArray) => np.negative(np.mean(np.sum(np.multiply(nn.logSoftmax(np.matmul(x, w)), y), { axis: 1 })));

  // dL/dW = xᵀ (softmax(xW) - y) / N
  const expectedGrad = (() => {
    const logits = matmulJS(xs, W);
    const p = logits.map((r) => {
      const m = Math.max(...r);
      const e = r.map((v) => Math.exp(v - m));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / s);
    });
    const delta = p.map((r, n) => r.map((v, k) => (v - onehot[n][k]) / N));
    return matmulJS(transposeJS(xs), delta);
  })();

  test('jit(grad(loss)) with matmul and softmax cross-entropy matches eager and the analytic gradient', () => {
    const args = [np.array(W), np.array(xs), np.array(onehot)] as const;
    const eager = grad(loss)(...args);
    const jitted = jit(grad(loss))(...args);
    expectClose(eager, expectedGrad, { rtol: 1e-4, atol: 1e-6 });
    expectClose(jitted, eager.toArray(), { rtol: 1e-5, atol: 1e-6 });
  });

  test('grad of a jitted function (jit inside grad)', () => {
    const g = grad(jit(loss))(np.array(W), np.array(xs), np.array(onehot));
    expectClose(g, expectedGrad, { rtol: 1e-4, atol: 1e-6 });
  });

  test('grad inside jit uses the traced argument', () => {
    const f = jit((x: NDArray) => np.multiply(grad((y: NDArray) => np.sum(np.multiply(np.sin(y), x)))(x), 2));
    const xv = [0.1, 0.7, -1.3];
    // d/dy sum(sin(y)·x) at y = x is cos(x)·x
    expectClose(f(np.array(xv)), xv.map((v) => 2 * Math.cos(v) * v));
  });
});

describe('forward-over-reverse and reverse-over-forward', () => {
  // h(x) = sum(x)·sum(x²): ∇h_i = sum(x²) + 2 x_i sum(x); H_ij = 2x_i + 2x_j + 2δ_ij sum(x)
  const h = (v: NDArray) => np.multiply(np.sum(v), np.sum(np.square(v)));
  const x = [0.5, -1, 2];
  const v = [1, 0.25, -0.5];
  const s = x.reduce((a, b) => a + b, 0);
  const Hv = x.map((xi, i) => x.reduce((acc, xj, j) => acc + (2 * xi + 2 * xj + (i === j ? 2 * s : 0)) * v[j], 0));

  test('jvp of grad is the Hessian-vector product', () => {
    const [g, hv] = jvp(grad(h), [np.array(x)], [np.array(v)]);
    const s2 = x.reduce((a, b) => a + b * b, 0);
    expectClose(g, x.map((xi) => s2 + 2 * xi * s), { rtol: 1e-5, atol: 1e-5 });
    expectClose(hv, Hv, { rtol: 1e-5, atol: 1e-5 });
  });

  test('grad of a jvp is the Hessian-vector product (H is symmetric)', () => {
    const dirDeriv = (p: NDArray) => jvp(h, [p], [np.array(v)])[1];
    expectClose(grad(dirDeriv)(np.array(x)), Hv, { rtol: 1e-5, atol: 1e-5 });
  });

  test('vmap of jvp of grad gives the full Hessian row by row', () => {
    const basis = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
    const rows = vmap((t: NDArray) => jvp(grad(h), [np.array(x)], [t])[1])(np.array(basis));
    expectClose(rows, x.map((xi, i) => x.map((xj, j) => 2 * xi + 2 * xj + (i === j ? 2 * s : 0))), { rtol: 1e-5, atol: 1e-5 });
  });
});

describe('closures, nesting and stopGradient', () => {
  test('an inner grad closing over an outer tracer (perturbation confusion)', () => {
    // d/dx [d/dy (x·y)] = d/dx x = 1
    expect(grad((x: NDArray) => grad((y: NDArray) => np.multiply(x, y))(2.0))(3.0).item()).toBeCloseTo(1, 6);
    // d/dx [x · d/dy (x + y)] = d/dx x = 1, not 2
    expect(grad((x: NDArray) => np.multiply(x, grad((y: NDArray) => np.add(x, y))(x)))(3.0).item()).toBeCloseTo(1, 6);
  });

  test('an inner grad closing over an outer vmap tracer', () => {
    // For each x: d/dy (x·y²) at y = 1 is 2x
    const out = vmap((x: NDArray) => grad((y: NDArray) => np.multiply(x, np.square(y)))(1.0))(np.array([1, 2, 3]));
    expectClose(out, [2, 4, 6]);
  });

  test('jvp closing over an outer grad tracer', () => {
    // g(x) = d/dt [sin(x·t)] at t=1 with tangent 1 = x·cos(x); g'(x) = cos x - x sin x
    const g = (x: NDArray) => jvp((t: NDArray) => np.sin(np.multiply(x, t)), [np.array(1)], [np.array(1)])[1];
    expect(grad(g)(0.8).item()).toBeCloseTo(Math.cos(0.8) - 0.8 * Math.sin(0.8), 5);
  });

  test('lax.stopGradient blocks the derivative of its argument', () => {
    // d/dx [x · stop(x)] = stop(x) = 3 (not 2x = 6)
    expect(grad((x: NDArray) => np.multiply(x, lax.stopGradient(x)))(3.0).item()).toBeCloseTo(3, 6);
    expect(grad((x: NDArray) => np.sum(lax.stopGradient(np.square(x))))(np.array([1, 2])).data()).toEqual(new Float32Array([0, 0]));
    // Its value is unchanged, also under jit.
    expectClose(jit((x: NDArray) => lax.stopGradient(np.multiply(x, 2)))(np.array([1, 2])), [2, 4]);
  });

  test('jvp tangent of stopGradient is zero', () => {
    const [, t] = jvp((x: NDArray) => np.add(lax.stopGradient(x), x), [np.array(2)], [np.array(1)]);
    expect(t.item()).toBeCloseTo(1, 6);
  });
});
