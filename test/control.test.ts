/**
 * @file Structured control flow (lax.cond, switch, scan, whileLoop, foriLoop) under every
 * transformation: eager and jit against plain JS loops, jvp and grad against float64 finite
 * differences of the same loops, vmap against per-lane loops, compositions, nesting, pytrees, errors,
 * the IR staying one loop (and DCE/CSE and residual hoisting on it), a property test over random
 * scans, and memory staying flat over long jitted loops.
 */

import fc from 'fast-check';
import * as v8 from 'v8';
import * as vm from 'vm';
import { grad, hessian, jacfwd, jacrev, jit, jvp, lax, makeJaxpr, NDArray, numpy as np, valueAndGrad, vjp, vmap } from 'metalgrad';
import { expectClose, rng } from './util';

const rand = rng(77);
const vec = (n: number): number[] => Array.from({ length: n }, () => rand());
const f32 = Math.fround;

/** Central differences of a float64 JS function of a flat parameter vector. */
function finiteDiff(f: (p: number[]) => number, p: number[], eps = 1e-4): number[] {
  return p.map((_, i) => {
    const hi = [...p];
    const lo = [...p];
    hi[i] += eps;
    lo[i] -= eps;
    return (f(hi) - f(lo)) / (2 * eps);
  });
}

const tol = { rtol: 2e-3, atol: 2e-3 };

describe('lax.cond and lax.switch', () => {
  const trueFn = (x: NDArray, y: NDArray) => np.add(np.sin(x), np.multiply(y, 2));
  const falseFn = (x: NDArray, y: NDArray) => np.subtract(np.multiply(x, y), 1);
  const f = (p: unknown, x: NDArray, y: NDArray) => lax.cond(p, trueFn, falseFn, x, y);
  const refF = (p: boolean, x: number, y: number) => (p ? Math.sin(x) + 2 * y : x * y - 1);
  const x = vec(3);
  const y = vec(3);

  test.each([true, false])('eager and jit take the right branch (pred %p)', (p) => {
    const want = x.map((xi, i) => refF(p, xi, y[i]));
    expectClose(f(p, np.array(x), np.array(y)), want);
    expectClose(jit(f)(np.array(p), np.array(x), np.array(y)), want);
  });

  test('an integer predicate is true when nonzero; one traced plan serves both branches', () => {
    let traces = 0;
    const g = jit((p: NDArray, a: NDArray) => {
      traces++;
      return lax.cond(p, (v: NDArray) => np.exp(v), (v: NDArray) => np.negative(v), a);
    });
    expectClose(g(np.array(3, { dtype: 'int32' }), np.array([0.5])), [Math.exp(0.5)]);
    expectClose(g(np.array(0, { dtype: 'int32' }), np.array([0.5])), [-0.5]);
    expect(traces).toBe(1);
  });

  test('pytree operands and outputs', () => {
    const out = lax.cond(
      false,
      (s: { a: NDArray; b: NDArray[] }) => ({ u: np.add(s.a, s.b[0]), v: [s.b[1]] }),
      (s: { a: NDArray; b: NDArray[] }) => ({ u: np.subtract(s.a, s.b[0]), v: [np.multiply(s.b[1], 3)] }),
      { a: np.array([1, 2]), b: [np.array([10, 20]), np.array(4)] },
    );
    expectClose(out.u, [-9, -18]);
    expectClose(out.v[0], 12);
  });

  test('switch runs branches[index] and clamps the index, as JAX', () => {
    const branches = [(v: NDArray) => np.add(v, 1), (v: NDArray) => np.multiply(v, 10), (v: NDArray) => np.negative(v)];
    const s = (i: unknown, v: NDArray) => lax.switch(i, branches, v);
    const want = [3, 20, -2, 3, -2];
    [0, 1, 2, -5, 7].forEach((i, k) => {
      expectClose(s(i, np.array(2)), want[k]);
      expectClose(jit(s)(np.array(i, { dtype: 'int32' }), np.array(2)), want[k]);
    });
  });

  test('grad and jvp through switch match finite differences in each branch', () => {
    const branches = [(v: NDArray) => np.exp(v), (v: NDArray) => np.multiply(v, np.cos(v)), (v: NDArray) => np.sum(np.square(v))];
    const refs = [(v: number[]) => v.reduce((s, a) => s + Math.exp(a), 0), (v: number[]) => v.reduce((s, a) => s + a * Math.cos(a), 0), (v: number[]) => v.reduce((s, a) => s + a * a, 0)];
    const a = vec(3);
    for (let i = 0; i < 3; i++) {
      const loss = (v: NDArray) => np.sum(lax.switch(i, branches.map((b, k) => (k === 2 ? (u: NDArray) => np.broadcastTo(b(u), [3]) : b)), v));
      const scale = i === 2 ? 3 : 1;
      const fd = finiteDiff((v) => scale * refs[i](v), a);
      expectClose(grad(loss)(np.array(a)), fd, tol);
      expectClose(jit(grad(loss))(np.array(a)), fd, tol);
      const t = vec(3);
      expectClose(jvp(loss, [np.array(a)], [np.array(t)])[1], fd.reduce((s, g, k) => s + g * t[k], 0), tol);
    }
  });

  test('jvp and grad match finite differences in each branch', () => {
    for (const p of [true, false]) {
      const loss = (a: NDArray, b: NDArray) => np.sum(np.multiply(f(p, a, b), f(p, a, b)));
      const ref = (v: number[]) => x.reduce((s, _, i) => s + refF(p, v[i], v[3 + i]) ** 2, 0);
      const fd = finiteDiff(ref, [...x, ...y]);
      const [ga, gb] = grad(loss, { argnums: [0, 1] })(np.array(x), np.array(y));
      expectClose(ga, fd.slice(0, 3), tol);
      expectClose(gb, fd.slice(3), tol);
      const t = vec(3);
      const [, tout] = jvp((a: NDArray) => loss(a, np.array(y)), [np.array(x)], [np.array(t)]);
      expectClose(tout, fd.slice(0, 3).reduce((s, g, i) => s + g * t[i], 0), tol);
    }
  });

  test('grad flows to values the branches close over (they become operands)', () => {
    const w = np.array(1.5);
    const g = grad((wv: NDArray) => lax.cond(true, (v: NDArray) => np.multiply(np.multiply(v, wv), wv), (v: NDArray) => v, np.array(2)))(w);
    expectClose(g, 2 * 2 * 1.5);
  });

  test('vmap with an unbatched predicate keeps one cond; with a batched one, selects per lane', () => {
    const xs = [[0.1, 0.2, 0.3], [1, 2, 3]];
    expectClose(vmap((a: NDArray) => f(true, a, np.array(y)))(np.array(xs)), xs.map((r) => r.map((v, i) => refF(true, v, y[i]))));
    const ps = [true, false, true, false];
    const as = vec(4);
    const bs = vec(4);
    const want = ps.map((p, i) => refF(p, as[i], bs[i]));
    expectClose(vmap(f)(np.array(ps), np.array(as), np.array(bs)), want);
    expectClose(jit(vmap(f))(np.array(ps), np.array(as), np.array(bs)), want);
    // A batched switch index, clamped per lane.
    const branches = [(v: NDArray) => np.add(v, 1), (v: NDArray) => np.multiply(v, 10), (v: NDArray) => np.negative(v)];
    const idx = np.array([2, 0, 9, 1, -3], { dtype: 'int32' });
    expectClose(vmap((i: NDArray, v: NDArray) => lax.switch(i, branches, v))(idx, np.array([1, 2, 3, 4, 5])), [-1, 3, -3, 40, 6]);
  });

  test('vmap(grad(cond)) and grad(jit(cond)) with a per-lane predicate', () => {
    const h = (p: NDArray, a: NDArray) => lax.cond(p, (v: NDArray) => np.multiply(v, np.sin(v)), (v: NDArray) => np.power(v, 3), a);
    const as = [0.3, -0.7, 1.1];
    const ps = [true, false, false];
    const d = (p: boolean, v: number) => (p ? Math.sin(v) + v * Math.cos(v) : 3 * v * v);
    expectClose(vmap(grad(h, { argnums: 1 }))(np.array(ps), np.array(as)), as.map((v, i) => d(ps[i], v)), tol);
    expectClose(grad(jit(h), { argnums: 1 })(np.array(true), np.array(0.3)), d(true, 0.3), tol);
    expectClose(jit(grad(h, { argnums: 1 }))(np.array(false), np.array(0.3)), d(false, 0.3), tol);
  });

  test('the IR shows cond with both branch jaxprs; lower() lists the nested kernels', () => {
    const text = makeJaxpr(f)(true, np.array(x), np.array(y)).toString();
    expect(text).toMatch(/cond\[branches=\(/);
    expect(text).toMatch(/sin/);
    expect(text).toMatch(/sub/);
    const lowered = jit(f).lower(np.array(true), np.array(x), np.array(y));
    const host = lowered.kernels.find((k) => k.ops[0] === 'cond');
    expect(host?.nested?.map((n) => n.name)).toEqual(['branches[0]', 'branches[1]']);
    expect(lowered.asText()).toMatch(/branches\[1\]: kernels \(1\):\n\s+fused_0: ops=\[sin, mul, add\]/);
    // Fusion stops at control flow: the work before and after the cond are separate kernels.
    const around = jit((p: NDArray, v: NDArray) => np.exp(lax.cond(p, (u: NDArray) => np.sin(u), (u: NDArray) => u, np.add(np.multiply(v, 2), 1))));
    expect(around.lower(np.array(true), np.array(x)).kernels.map((k) => `${k.name}:${k.ops.join(',')}`)).toEqual(['convert_0:convert', 'fused_1:mul,add', 'cond_2:cond', 'exp_3:exp']);
    expectClose(around(np.array(true), np.array(x)), x.map((v) => Math.exp(Math.sin(2 * v + 1))));
  });

  test('clear errors for bad predicates and mismatched branches', () => {
    const a = np.array([1, 2]);
    expect(() => lax.cond(np.array([true, false]), (v: NDArray) => v, (v: NDArray) => v, a)).toThrow(/lax.cond: argument `pred` must be a scalar \(shape \[\]\), received an array of shape \[2\]/);
    expect(() => lax.cond(np.array(1.5), (v: NDArray) => v, (v: NDArray) => v, a)).toThrow(/lax.cond: argument `pred` must have dtype bool or int32 or uint32, received float32/);
    expect(() => lax.cond(true, (v: NDArray) => v, (v: NDArray) => np.sum(v), a)).toThrow(/lax.cond: falseFn and trueFn must return identical types, but output leaf 0 is f32\[\] from falseFn and f32\[2\] from trueFn/);
    expect(() => lax.cond(true, (v: NDArray) => [v, v], (v: NDArray) => v, a)).toThrow(/lax.cond: falseFn and trueFn must return the same tree structure, received \* and \[\*, \*\]/);
    expect(() => lax.cond(true, 3 as never, (v: NDArray) => v, a)).toThrow(/lax.cond: argument `trueFn` must be a function, received number 3/);
    expect(() => lax.switch(np.array(true), [(v: NDArray) => v], a)).toThrow(/lax.switch: argument `index` must have dtype int32 or uint32, received bool/);
    expect(() => lax.switch(0, [], a)).toThrow(/lax.switch: argument `branches` must be a non-empty JS array of functions/);
  });
});

describe('lax.scan', () => {
  // An RNN cell: h' = tanh(w·h + x), y = h'².
  const cell = (w: NDArray) => (h: NDArray, xt: NDArray): [NDArray, NDArray] => {
    const hn = np.tanh(np.add(np.multiply(w, h), xt));
    return [hn, np.multiply(hn, hn)];
  };
  const refScan = (w: number, h0: number, xs: number[], reverse = false): [number, number[]] => {
    let h = h0;
    const ys = new Array<number>(xs.length);
    for (let t = 0; t < xs.length; t++) {
      const i = reverse ? xs.length - 1 - t : t;
      h = Math.tanh(w * h + xs[i]);
      ys[i] = h * h;
    }
    return [h, ys];
  };
  const xs = vec(6);

  test.each([false, true])('eager and jit match a JS loop (reverse %p)', (reverse) => {
    const run = (w: NDArray, h: NDArray, x: NDArray) => lax.scan(cell(w), h, x, { reverse });
    const [hWant, ysWant] = refScan(0.8, 0.1, xs, reverse);
    for (const impl of [run, jit(run)]) {
      const [h, ys] = impl(np.array(0.8), np.array(0.1), np.array(xs));
      expectClose(h, hWant);
      expectClose(ys, ysWant);
    }
  });

  test('pytree carry and xs; no xs with a length; ys may be null', () => {
    const [c, ys] = lax.scan(
      (s: { n: NDArray; acc: NDArray[] }, x: { a: NDArray; b: NDArray }) => [{ n: np.add(s.n, 1), acc: [np.add(s.acc[0], np.multiply(x.a, x.b))] }, { prod: np.multiply(x.a, x.b) }],
      { n: np.array(0, { dtype: 'int32' }), acc: [np.zeros([2])] },
      { a: np.array([[1, 2], [3, 4], [5, 6]]), b: np.array([2, 3, 4]).reshape([3, 1]).astype('float32') },
    );
    expectClose(c.n, 3);
    expectClose(c.acc[0], [2 + 9 + 20, 4 + 12 + 24]);
    expectClose(ys.prod, [[2, 4], [9, 12], [20, 24]]);
    const [count, none] = lax.scan((k: NDArray) => [np.multiply(k, 2), null], np.array(1), null, { length: 10 });
    expectClose(count, 1024);
    expect(none).toBeNull();
  });

  test('jvp and grad with respect to the weights, the initial carry and xs match finite differences', () => {
    const loss = (w: NDArray, h0: NDArray, x: NDArray) => {
      const [h, ys] = lax.scan(cell(w), h0, x);
      return np.add(np.sum(ys), np.multiply(h, 3));
    };
    const ref = (p: number[]) => {
      const [h, ys] = refScan(p[0], p[1], p.slice(2));
      return ys.reduce((s, v) => s + v, 0) + 3 * h;
    };
    const fd = finiteDiff(ref, [0.8, 0.1, ...xs]);
    const [gw, gh, gx] = grad(loss, { argnums: [0, 1, 2] })(np.array(0.8), np.array(0.1), np.array(xs));
    expectClose(gw, fd[0], tol);
    expectClose(gh, fd[1], tol);
    expectClose(gx, fd.slice(2), tol);
    const [, t] = jvp(loss, [np.array(0.8), np.array(0.1), np.array(xs)], [np.array(1), np.array(0), np.zeros([6])]);
    expectClose(t, fd[0], tol);
    const [, jg] = jit(valueAndGrad(loss))(np.array(0.8), np.array(0.1), np.array(xs));
    expectClose(jg, fd[0], tol);
    expectClose(grad(jit(loss))(np.array(0.8), np.array(0.1), np.array(xs)), fd[0], tol);
  });

  test('vjp of a reverse scan over vectors with a matrix weight', () => {
    const W = [vec(3), vec(3), vec(3)];
    const x = [vec(3), vec(3), vec(3), vec(3)];
    const step = (w: NDArray) => (h: NDArray, xt: NDArray): [NDArray, NDArray] => {
      const hn = np.sin(np.add(np.matmul(w, h), xt));
      return [hn, np.sum(hn)];
    };
    const run = (w: NDArray, xv: NDArray) => {
      const [h, ys] = lax.scan(step(w), np.zeros([3]), xv, { reverse: true });
      return np.add(np.sum(np.multiply(h, h)), np.sum(np.multiply(ys, np.arange(4))));
    };
    const ref = (p: number[]) => {
      const w = [p.slice(0, 3), p.slice(3, 6), p.slice(6, 9)];
      const xv = [0, 1, 2, 3].map((i) => p.slice(9 + 3 * i, 12 + 3 * i));
      let h = [0, 0, 0];
      let total = 0;
      for (let i = 3; i >= 0; i--) {
        h = w.map((row, r) => Math.sin(row.reduce((s, v, c) => s + v * h[c], 0) + xv[i][r]));
        total += i * h.reduce((s, v) => s + v, 0);
      }
      return total + h.reduce((s, v) => s + v * v, 0);
    };
    const fd = finiteDiff(ref, [...W.flat(), ...x.flat()]);
    const [, back] = vjp(run, np.array(W), np.array(x));
    const [gw, gx] = back(np.array(1));
    expectClose(gw, [fd.slice(0, 3), fd.slice(3, 6), fd.slice(6, 9)], tol);
    expectClose(gx, [0, 1, 2, 3].map((i) => fd.slice(9 + 3 * i, 12 + 3 * i)), tol);
  });

  test('residuals computed from loop-invariant values are computed once, not stacked per iteration', () => {
    const W = [vec(3), vec(3), vec(3)];
    const xv = vec(50);
    const loss = (w: NDArray, xs: NDArray) => {
      const [h] = lax.scan((c: NDArray, xt: NDArray) => [np.tanh(np.add(np.matmul(np.transpose(w), c), np.multiply(np.sum(np.exp(w), { axis: 0 }), xt))), null], np.ones([3]), xs);
      return np.sum(h);
    };
    const text = jit(grad(loss)).lower(np.array(W), np.array(xv)).jaxpr.toString();
    expect(text).not.toMatch(/f32\[50,3,3\]/);
    const ref = (p: number[]) => {
      const w = [p.slice(0, 3), p.slice(3, 6), p.slice(6, 9)];
      const colExp = [0, 1, 2].map((j) => w.reduce((s, row) => s + Math.exp(row[j]), 0));
      let h = [1, 1, 1];
      for (const xt of xv) h = [0, 1, 2].map((i) => Math.tanh(w.reduce((s, row, k) => s + row[i] * h[k], 0) + colExp[i] * xt));
      return h.reduce((s, v) => s + v, 0);
    };
    const fd = finiteDiff(ref, W.flat());
    expectClose(grad(loss)(np.array(W), np.array(xv)), [fd.slice(0, 3), fd.slice(3, 6), fd.slice(6, 9)], tol);
    expectClose(jit(grad(loss))(np.array(W), np.array(xv)), [fd.slice(0, 3), fd.slice(3, 6), fd.slice(6, 9)], tol);
  });

  test('vmap over xs, over the initial carry, and vmap(grad(scan)) match per-lane loops', () => {
    const run = (w: NDArray, h0: NDArray, x: NDArray) => lax.scan(cell(w), h0, x);
    const xb = [vec(5), vec(5), vec(5)];
    const [h, ys] = vmap(run, { inAxes: [null, null, 0] })(np.array(0.7), np.array(0.2), np.array(xb));
    expectClose(h, xb.map((r) => refScan(0.7, 0.2, r)[0]));
    expectClose(ys, xb.map((r) => refScan(0.7, 0.2, r)[1]));
    // xs mapped along axis 1: ys come back with the batch axis first.
    const [h2] = jit(vmap(run, { inAxes: [null, 0, 1] }))(np.array(0.7), np.array([0.1, -0.4, 0.9]), np.array(xb).transpose());
    expectClose(h2, [0.1, -0.4, 0.9].map((h0, i) => refScan(0.7, h0, xb[i])[0]));
    const loss = (w: NDArray, x: NDArray) => np.sum(run(w, np.array(0.2), x)[1]);
    const ws = [0.3, 0.9];
    const gws = vmap(grad(loss), { inAxes: [0, null] })(np.array(ws), np.array(xb[0]));
    const fdw = ws.map((w) => finiteDiff((p) => refScan(p[0], 0.2, xb[0])[1].reduce((s, v) => s + v, 0), [w])[0]);
    expectClose(gws, fdw, tol);
  });

  test('nested loops: a scan inside a cond inside a scan, differentiated', () => {
    const inner = (a: NDArray, v: NDArray) => lax.scan((c: NDArray, k: NDArray) => [np.add(np.multiply(c, a), k), null], v, np.array([0.5, -0.25]))[0];
    const outer = (a: NDArray, x: NDArray) =>
      lax.scan((c: NDArray, xt: NDArray) => {
        const next = lax.cond(np.greater(xt, 0), (v: NDArray) => inner(a, v), (v: NDArray) => np.multiply(v, xt), c);
        return [next, next];
      }, np.array(1), x)[0];
    const xv = [0.5, -0.8, 0.3, 1.2];
    const ref = (p: number[]) => {
      let c = 1;
      for (const xt of xv) c = xt > 0 ? (c * p[0] + 0.5) * p[0] - 0.25 : c * xt;
      return c;
    };
    expectClose(outer(np.array(0.9), np.array(xv)), ref([0.9]), tol);
    expectClose(jit(outer)(np.array(0.9), np.array(xv)), ref([0.9]), tol);
    expectClose(grad(outer)(np.array(0.9), np.array(xv)), finiteDiff(ref, [0.9])[0], tol);
    expectClose(jit(grad(outer))(np.array(0.9), np.array(xv)), finiteDiff(ref, [0.9])[0], tol);
  });

  test('second-order derivatives: grad(grad(scan)), hessian and jacrev/jacfwd agree with finite differences', () => {
    const xv = [0.1, 0.2, 0.3];
    const run = (w: NDArray) => lax.scan((c: NDArray, xt: NDArray) => [np.sin(np.add(np.multiply(c, w), xt)), c], np.array(0.5), np.array(xv))[0];
    const ref = (w: number) => xv.reduce((c, xt) => Math.sin(c * w + xt), 0.5);
    const e = 1e-3;
    expectClose(grad(grad(run))(np.array(0.7)), (ref(0.7 + e) - 2 * ref(0.7) + ref(0.7 - e)) / (e * e), tol);
    expectClose(hessian(run)(np.array(0.7)), (ref(0.7 + e) - 2 * ref(0.7) + ref(0.7 - e)) / (e * e), tol);
    expectClose(jacrev(run)(np.array(0.7)), (ref(0.7 + e) - ref(0.7 - e)) / (2 * e), tol);
    expectClose(jacfwd(run)(np.array(0.7)), (ref(0.7 + e) - ref(0.7 - e)) / (2 * e), tol);
    const g = (v: NDArray) => lax.cond(np.greater(v, 0), (u: NDArray) => np.power(u, 3), (u: NDArray) => np.sin(u), v);
    expectClose(grad(grad(g))(np.array(0.7)), 6 * 0.7, tol);
    expectClose(grad(grad(g))(np.array(-0.7)), -Math.sin(-0.7), tol);
  });

  test('length 0 returns the initial carry and empty ys', () => {
    const [c, ys] = lax.scan((h: NDArray, xt: NDArray) => [np.add(h, xt), np.multiply(h, 2)], np.array([1, 2]), np.zeros([0, 2]));
    expectClose(c, [1, 2]);
    expect(ys.shape).toEqual([0, 2]);
    const [c2] = jit((h: NDArray, x: NDArray) => lax.scan((a: NDArray, xt: NDArray) => [np.add(a, xt), null], h, x))(np.array([1, 2]), np.zeros([0, 2]));
    expectClose(c2, [1, 2]);
  });

  test('DCE drops unused loop outputs and the work only they need; CSE keeps different bodies apart', () => {
    const f = (x: NDArray) => {
      const [c, ys] = lax.scan((h: NDArray, xt: NDArray) => [np.add(h, xt), np.exp(np.multiply(h, xt))], np.array(0), x);
      void ys;
      const other = lax.scan((h: NDArray, xt: NDArray) => [np.subtract(h, xt), null], np.array(0), x)[0];
      return np.add(c, other);
    };
    const text = jit(f).lower(np.ones([4])).jaxpr.toString();
    expect(text).not.toMatch(/exp/);
    expect((text.match(/= scan\[/g) ?? []).length).toBe(2);
    expectClose(jit(f)(np.array([1, 2, 3, 4])), 0);
    // Two scans with equal bodies on equal inputs are one; bodies equal up to wiring are not.
    const twice = (x: NDArray) => {
      const run = (body: (h: NDArray, xt: NDArray) => [NDArray, null]) => lax.scan(body, np.array(0), x)[0];
      const sub1 = run((h, xt) => [np.subtract(h, xt), null]);
      const sub2 = run((h, xt) => [np.subtract(h, xt), null]);
      const sub3 = run((h, xt) => [np.subtract(xt, h), null]);
      return [np.add(sub1, sub2), sub3];
    };
    const twiceText = jit(twice).lower(np.ones([3])).jaxpr.toString();
    expect((twiceText.match(/= scan\[/g) ?? []).length).toBe(2);
    const [s12, s3] = jit(twice)(np.array([1, 2, 4]));
    expectClose(s12, -14);
    expectClose(s3, 4 - (2 - 1));
    // A cond output nobody uses is removed from every branch.
    const g = (p: NDArray, x: NDArray) => lax.cond(p, (v: NDArray) => [np.sin(v), np.exp(v)], (v: NDArray) => [v, np.log(v)], x)[0];
    const gText = jit(g).lower(np.array(true), np.ones([2])).jaxpr.toString();
    expect(gText).not.toMatch(/exp|log/);
    expectClose(jit(g)(np.array(true), np.array([0.5, 1])), [Math.sin(0.5), Math.sin(1)]);
  });

  test('a 1,000-step scan traces its body once and its IR does not grow with the length', () => {
    let traces = 0;
    const body = (c: NDArray, xt: NDArray): [NDArray, NDArray] => {
      traces++;
      return [np.add(np.multiply(c, 0.999), xt), c];
    };
    const run = (x: NDArray) => lax.scan(body, np.array(0), x);
    const short = makeJaxpr(run)(np.ones([10])).toString();
    expect(traces).toBe(1);
    const long = makeJaxpr(run)(np.ones([1000])).toString();
    expect(traces).toBe(2);
    expect(long.replace(/1000/g, '10')).toBe(short);
    expect(long.split('\n').length).toBeLessThan(12);
    // The gradient's IR is two scans (forward with residuals, transposed backward), also independent of the length.
    const tanhRun = (x: NDArray) => lax.scan((c: NDArray, xt: NDArray) => [np.tanh(np.add(np.multiply(c, 0.999), xt)), c], np.array(0), x);
    const gradText = (n: number) => jit(grad((x: NDArray) => np.sum(tanhRun(x)[1]))).lower(np.ones([n])).jaxpr.toString();
    expect(gradText(1000).replace(/1000/g, '10')).toBe(gradText(10));
    expect((gradText(1000).match(/= scan\[/g) ?? []).length).toBe(2);
    const [c] = jit(run)(np.ones([1000]));
    let ref = 0;
    for (let i = 0; i < 1000; i++) ref = f32(f32(ref * f32(0.999)) + 1);
    expectClose(c, ref, { rtol: 1e-5, atol: 1e-4 });
  });

  test('property: for random lengths, directions, widths and data, eager, jit and grad agree with a JS loop', () => {
    // c' = c·a + x·b (elementwise), y = c'·x; loss = sum(c_final) + sum(ys).
    const arb = fc.record({
      length: fc.integer({ min: 0, max: 9 }),
      width: fc.integer({ min: 1, max: 3 }),
      reverse: fc.boolean(),
      seed: fc.integer({ min: 1, max: 1000 }),
    });
    fc.assert(
      fc.property(arb, ({ length, width, reverse, seed }) => {
        const r = rng(seed);
        const a = Array.from({ length: width }, () => r(-1, 1));
        const b = Array.from({ length: width }, () => r(-1, 1));
        const xv = Array.from({ length }, () => Array.from({ length: width }, () => r(-1, 1)));
        const run = (av: NDArray, bv: NDArray, x: NDArray) =>
          lax.scan((c: NDArray, xt: NDArray) => {
            const next = np.add(np.multiply(c, av), np.multiply(xt, bv));
            return [next, np.multiply(next, xt)];
          }, np.ones([width]), x, { reverse });
        const ref = (av: number[], bv: number[]): [number[], number[][]] => {
          let c = av.map(() => 1);
          const ys: number[][] = new Array(length);
          for (let t = 0; t < length; t++) {
            const i = reverse ? length - 1 - t : t;
            c = c.map((v, j) => v * av[j] + xv[i][j] * bv[j]);
            ys[i] = c.map((v, j) => v * xv[i][j]);
          }
          return [c, ys];
        };
        const [cWant, ysWant] = ref(a, b);
        const x = length === 0 ? np.zeros([0, width]) : np.array(xv);
        for (const impl of [run, jit(run)]) {
          const [c, ys] = impl(np.array(a), np.array(b), x);
          expectClose(c, cWant, { rtol: 1e-4, atol: 1e-5 });
          expect(ys.shape).toEqual([length, width]);
          if (length > 0) expectClose(ys, ysWant, { rtol: 1e-4, atol: 1e-5 });
        }
        const loss = (av: NDArray) => {
          const [c, ys] = run(av, np.array(b), x);
          return np.add(np.sum(c), np.sum(ys));
        };
        const fd = finiteDiff((p) => {
          const [c, ys] = ref(p, b);
          return c.reduce((s, v) => s + v, 0) + ys.flat().reduce((s, v) => s + v, 0);
        }, a);
        expectClose(grad(loss)(np.array(a)), fd, { rtol: 5e-3, atol: 5e-3 });
      }),
      { seed: 5150, numRuns: 40 },
    );
  });

  test('clear errors for carry type changes, mismatched xs and bad results', () => {
    const x = np.ones([3]);
    expect(() => lax.scan((c: NDArray, xt: NDArray) => [np.add(np.zeros([2]), np.add(c, xt)), null], np.array(0), x)).toThrow(
      /lax.scan: the carry returned by f must keep the types of `init`: leaf 0 is f32\[\] in init but f32\[2\] in the carry returned by f/,
    );
    expect(() => lax.scan((c: NDArray[]) => [c[0], null], [np.array(0), np.array(1)], x)).toThrow(/lax.scan: the carry returned by f must have the tree structure of `init`, \[\*, \*\], received \*/);
    expect(() => lax.scan((c: NDArray) => [c, null], np.array(0), [np.ones([3]), np.ones([4])])).toThrow(/lax.scan: argument `xs` leaves must all have the same leading axis size, received \[3\], \[4\]/);
    expect(() => lax.scan((c: NDArray) => [c, null], np.array(0), x, { length: 5 })).toThrow(/lax.scan: argument `length` is 5, but the leading axis of `xs` has size 3/);
    expect(() => lax.scan((c: NDArray) => [c, null], np.array(0), null)).toThrow(/lax.scan: argument `length` must be given when `xs` holds no arrays/);
    expect(() => lax.scan(((c: NDArray) => c) as never, np.array(0), x)).toThrow(/lax.scan: f must return a pair \[carry, y\], received an array f32\[\]/);
    expect(() => lax.scan((c: NDArray) => [c, null], np.array(0), np.array(2))).toThrow(/lax.scan: argument `xs` leaves must have a leading axis to scan over, but leaf 0 is a scalar f32\[\]/);
  });
});

describe('lax.whileLoop and lax.foriLoop', () => {
  // Newton's iteration for sqrt(a) until converged, counting steps.
  const newton = (a: NDArray) =>
    lax.whileLoop(
      ([x, k]: NDArray[]) => lax.and(np.greater(np.abs(np.subtract(np.multiply(x, x), a)), 1e-5), np.less(k, 50)),
      ([x, k]: NDArray[]) => [np.multiply(0.5, np.add(x, np.divide(a, x))), np.add(k, 1)],
      [a, np.array(0, { dtype: 'int32' })],
    );
  const refNewton = (a: number): [number, number] => {
    let x = a;
    let k = 0;
    while (Math.abs(f32(x * x) - a) > 1e-5 && k < 50) {
      x = f32(0.5 * f32(x + f32(a / x)));
      k++;
    }
    return [x, k];
  };

  test('eager and jit run until the predicate fails', () => {
    for (const a of [2, 9, 0.25]) {
      const [x, k] = refNewton(f32(a));
      for (const impl of [newton, jit(newton)]) {
        const [gx, gk] = impl(np.array(a));
        expectClose(gx, x, { rtol: 1e-6, atol: 1e-6 });
        expect(gk.item()).toBe(k);
      }
    }
  });

  test('vmap with a batched predicate runs every lane to its own end', () => {
    const as = [2, 9, 0.25, 1];
    const [xs, ks] = vmap(newton)(np.array(as));
    expectClose(xs, as.map((a) => refNewton(f32(a))[0]), { rtol: 1e-6, atol: 1e-6 });
    expect(Array.from(ks.data())).toEqual(as.map((a) => refNewton(f32(a))[1]));
    expect(Array.from(jit(vmap(newton))(np.array(as))[1].data())).toEqual(as.map((a) => refNewton(f32(a))[1]));
    // An unbatched predicate with a batched carry: one trip count for all lanes.
    const powers = vmap((v: NDArray) => lax.whileLoop(([k]: NDArray[]) => np.less(k, 3), ([k, p]: NDArray[]) => [np.add(k, 1), np.multiply(p, v)], [np.array(0), np.array(1)])[1]);
    expectClose(powers(np.array([2, 3, -1])), [8, 27, -1]);
  });

  test('jvp through whileLoop; reverse mode gives the JAX-like error', () => {
    const cube = (v: NDArray) => lax.whileLoop(([k]: NDArray[]) => np.less(k, 3), ([k, p]: NDArray[]) => [np.add(k, 1), np.multiply(p, v)], [np.array(0), np.array(1)])[1];
    const [y, t] = jvp(cube, [np.array(1.5)], [np.array(1)]);
    expectClose(y, 1.5 ** 3);
    expectClose(t, 3 * 1.5 ** 2, tol);
    expect(() => grad(cube)(np.array(1.5))).toThrow(/reverse-mode differentiation \(grad, vjp\) does not work for lax.whileLoop or lax.foriLoop with dynamic \(traced\) bounds.*Use lax.scan/);
    const dyn = (x: NDArray, n: NDArray) => lax.foriLoop(0, n, (_i: NDArray, v: NDArray) => np.multiply(v, x), np.array(1));
    expect(() => jit(grad(dyn))(np.array(2), np.array(3, { dtype: 'int32' }))).toThrow(/does not work for lax.whileLoop or lax.foriLoop with dynamic/);
    const [, t2] = jit((x: NDArray, n: NDArray) => jvp((v: NDArray) => dyn(v, n), [x], [np.array(1)]))(np.array(2), np.array(3, { dtype: 'int32' }));
    expectClose(t2, 12);
  });

  test('foriLoop with static bounds is a scan: grad, grad(jit), jit(grad) and vmap(grad) match finite differences', () => {
    const poly = (x: NDArray) => lax.foriLoop(1, 5, (i: NDArray, v: NDArray) => np.add(np.multiply(v, x), np.sin(np.multiply(np.astype(i, 'float32'), x))), np.array(0.5));
    const ref = (p: number[]) => {
      let v = 0.5;
      for (let i = 1; i < 5; i++) v = v * p[0] + Math.sin(i * p[0]);
      return v;
    };
    expect(makeJaxpr(poly)(np.array(0.3)).toString()).toMatch(/scan\[/);
    expectClose(poly(np.array(0.3)), ref([0.3]), tol);
    const d = finiteDiff(ref, [0.3])[0];
    expectClose(grad(poly)(np.array(0.3)), d, tol);
    expectClose(grad(jit(poly))(np.array(0.3)), d, tol);
    expectClose(jit(grad(poly))(np.array(0.3)), d, tol);
    const xs = [0.3, -0.6, 1.1];
    expectClose(vmap(grad(poly))(np.array(xs)), xs.map((v) => finiteDiff(ref, [v])[0]), tol);
  });

  test('foriLoop with traced bounds is a whileLoop and runs under jit and vmap', () => {
    const tri = (n: NDArray) => lax.foriLoop(0, n, (i: NDArray, acc: NDArray) => np.add(acc, i), np.array(0, { dtype: 'int32' }));
    expect(jit(tri)(np.array(10, { dtype: 'int32' })).item()).toBe(45);
    expect(jit(tri).lower(np.array(10, { dtype: 'int32' })).jaxpr.toString()).toMatch(/while\[condJaxpr=/);
    expect(Array.from(vmap(tri)(np.array([0, 3, 5], { dtype: 'int32' })).data())).toEqual([0, 3, 10]);
  });

  test('clear errors for a non-bool predicate and a changed carry', () => {
    expect(() => lax.whileLoop((c: NDArray) => c, (c: NDArray) => c, np.array(1))).toThrow(/lax.whileLoop: condFn must return a bool scalar, received f32\[\]/);
    expect(() => lax.whileLoop((c: NDArray) => np.less(c, 3), (c: NDArray) => np.astype(c, 'int32'), np.array(1))).toThrow(
      /lax.whileLoop: the result of bodyFn must keep the types of `init`: leaf 0 is f32\[\] in init but i32\[\] in the result of bodyFn/,
    );
    expect(() => lax.foriLoop(0, 3, (_i: NDArray, v: { a: NDArray }) => v.a, { a: np.array(1) })).toThrow(/lax.foriLoop: the result of bodyFn must have the tree structure of `init`, \{a: \*\}, received \*/);
    expect(() => lax.foriLoop(0, 3, (_i: NDArray, v: NDArray) => np.astype(v, 'int32'), np.array(1))).toThrow(/lax.foriLoop: the result of bodyFn must keep the types of `init`: leaf 0 is f32\[\] in init but i32\[\] in the result of bodyFn/);
    expect(() => lax.foriLoop(0, np.array(3, { dtype: 'int32' }), (_i: NDArray, v: NDArray) => [v], np.array(1))).toThrow(/lax.foriLoop: the result of bodyFn must have the tree structure/);
    expect(() => lax.foriLoop(0.5, 3, (_i: NDArray, v: NDArray) => v, np.array(1))).toThrow(/lax.foriLoop: argument `lower` must be an integer, received number 0.5/);
  });
});

describe('memory', () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const settle = (): NodeJS.MemoryUsage => {
    for (let i = 0; i < 3; i++) gc();
    return process.memoryUsage();
  };

  test('a jitted 5,000-step scan and whileLoop reuse their buffers: memory stays flat across calls', () => {
    const n = 64;
    const run = jit((c: NDArray, x: NDArray) => lax.scan((h: NDArray, xt: NDArray) => [np.add(np.multiply(h, 0.5), xt), null], c, x)[0]);
    const loop = jit((c: NDArray) => lax.whileLoop(([k]: NDArray[]) => np.less(k, 5000), ([k, h]: NDArray[]) => [np.add(k, 1), np.tanh(np.add(h, 0.01))], [np.array(0, { dtype: 'int32' }), c])[1]);
    const xs = np.ones([5000, n]);
    const c0 = np.zeros([n]);
    run(c0, xs);
    loop(c0);
    const before = settle();
    let out: NDArray = c0;
    for (let i = 0; i < 5; i++) {
      out = run(c0, xs);
      out = loop(out);
    }
    const after = settle();
    expect(Number.isFinite(out.data()[0])).toBe(true);
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(1024 * 1024);
    expect(after.heapUsed - before.heapUsed).toBeLessThan(8 * 1024 * 1024);
  });
});
