/**
 * @file jit: the trace cache (what retraces and what does not), static arguments, the lowered IR
 * after DCE and CSE, makeJaxpr listings, output aliasing and freshness, and escaped tracers.
 */

import { grad, jit, makeJaxpr, NDArray, numpy as np, vmap } from 'metalgrad';
import { expectClose, expectEqual } from './util';

/** A jitted function that counts how many times its body is traced. */
function counted<F extends (...args: any[]) => any>(body: F, options = {}) {
  const counter = { traces: 0 };
  const f = jit(((...args: any[]) => {
    counter.traces++;
    return body(...args);
  }) as F, options);
  return { f, counter };
}

describe('trace cache', () => {
  test('the same signature is traced once; a new shape or dtype retraces', () => {
    const { f, counter } = counted((x: NDArray) => np.multiply(x, 2));
    expectClose(f(np.array([1, 2, 3])), [2, 4, 6]);
    expectClose(f(np.array([4, 5, 6])), [8, 10, 12]);
    expect(counter.traces).toBe(1);
    expectClose(f(np.array([1, 2])), [2, 4]); // new shape
    expect(counter.traces).toBe(2);
    expectEqual(f(np.array([1, 2], { dtype: 'int32' })), [2, 4], 'int32'); // new dtype
    expect(counter.traces).toBe(3);
    // Every earlier signature is still cached.
    f(np.array([7, 8, 9]));
    f(np.array([7, 8]));
    f(np.array([7, 8], { dtype: 'int32' }));
    expect(counter.traces).toBe(3);
  });

  test('a JS number (weakly typed) and a float32 array of the same shape are different signatures', () => {
    const { f, counter } = counted((x: NDArray | number) => np.add(x, 1));
    expect(f(2).item()).toBe(3);
    expect(f(5).item()).toBe(6);
    expect(counter.traces).toBe(1);
    expect(f(np.array(2)).item()).toBe(3);
    expect(counter.traces).toBe(2);
  });

  test('a new pytree structure retraces; the same structure with new values does not', () => {
    const { f, counter } = counted((p: Record<string, NDArray>) => Object.values(p).reduce((a, b) => np.add(a, b)));
    expect(f({ a: np.array(1), b: np.array(2) }).item()).toBe(3);
    expect(f({ a: np.array(10), b: np.array(20) }).item()).toBe(30);
    expect(counter.traces).toBe(1);
    expect(f({ a: np.array(1), b: np.array(2), c: np.array(4) }).item()).toBe(7);
    expect(counter.traces).toBe(2);
    expect(f({ a: np.array(1), c: np.array(2) }).item()).toBe(3); // same leaf count, different keys
    expect(counter.traces).toBe(3);
  });

  test('list versus object arguments are different structures', () => {
    const { f, counter } = counted((p: any) => np.add(p[0] ?? p.x, 1));
    expect(f([np.array(1)]).item()).toBe(2);
    expect(f({ x: np.array(1) }).item()).toBe(2);
    expect(counter.traces).toBe(2);
  });
});

describe('static arguments', () => {
  test('static values drive JS control flow and key the cache', () => {
    // x^n by repeated multiplication, unrolled at trace time.
    const { f, counter } = counted((x: NDArray, n: number) => {
      let r: NDArray = np.onesLike(x);
      for (let i = 0; i < n; i++) r = np.multiply(r, x);
      return r;
    }, { staticArgnums: 1 });
    expectClose(f(np.array([2, 3]), 3), [8, 27]);
    expectClose(f(np.array([4, 5]), 3), [64, 125]);
    expect(counter.traces).toBe(1);
    expectClose(f(np.array([2, 3]), 2), [4, 9]);
    expect(counter.traces).toBe(2);
    expectClose(f(np.array([2, 3]), 0), [1, 1]);
    expect(counter.traces).toBe(3);
    // The static value appears in the staged program: n multiplications.
    expect(f.lower(np.array([2, 3]), 4).jaxpr.jaxpr.eqns.filter((e) => e.prim === 'mul')).toHaveLength(4);
  });

  test('a static string selects a branch; a static argument in the middle and a negative index', () => {
    const act = (x: NDArray, kind: string, scale: NDArray) => (kind === 'relu' ? np.multiply(np.maximum(x, 0), scale) : np.multiply(np.tanh(x), scale));
    const { f, counter } = counted(act, { staticArgnums: [-2] });
    expectClose(f(np.array([-1, 2]), 'relu', np.array(3)), [0, 6]);
    expectClose(f(np.array([-1, 2]), 'tanh', np.array(1)), [Math.tanh(-1), Math.tanh(2)]);
    expectClose(f(np.array([-3, 4]), 'relu', np.array(2)), [0, 8]);
    expect(counter.traces).toBe(2);
  });

  test('static objects are keyed by value', () => {
    const { f, counter } = counted((x: NDArray, cfg: { scale: number }) => np.multiply(x, cfg.scale), { staticArgnums: 1 });
    expectClose(f(np.array([1]), { scale: 2 }), [2]);
    expectClose(f(np.array([1]), { scale: 2 }), [2]);
    expect(counter.traces).toBe(1);
    expectClose(f(np.array([1]), { scale: 5 }), [5]);
    expect(counter.traces).toBe(2);
  });
});

describe('lowered IR', () => {
  const f = (x: NDArray) => {
    const unused = np.exp(x); // eslint-disable-line @typescript-eslint/no-unused-vars
    return np.add(np.sin(x), np.sin(x));
  };

  test('DCE removes an unused computation and CSE merges a duplicated one', () => {
    const lowered = jit(f).lower(np.ones([3]));
    const text = lowered.asText();
    const ir = lowered.jaxpr.toString();
    expect(text).toContain(ir);
    expect(ir.match(/= sin /g)).toHaveLength(1);
    expect(ir).not.toMatch(/\bexp\b/);
    expect(ir).toMatch(/= add (\w+) \1\n/); // both operands are the one sin result
    expect(lowered.jaxpr.jaxpr.eqns.map((e) => e.prim)).toEqual(['sin', 'add']);
    // The result is still right.
    expectClose(jit(f)(np.array([0.5, 1, 2])), [0.5, 1, 2].map((v) => 2 * Math.sin(v)), { rtol: 1e-6 });
  });

  test('lower(...).kernels describe the launched kernels', () => {
    const lowered = jit(f).lower(np.ones([3]));
    expect(lowered.kernels.length).toBeGreaterThan(0);
    for (const k of lowered.kernels) {
      expect(typeof k.name).toBe('string');
      expect(k.name.length).toBeGreaterThan(0);
      expect(Array.isArray(k.ops)).toBe(true);
      expect(k.ops.length).toBeGreaterThan(0);
      expect(Number.isInteger(k.inputs) && k.inputs >= 0).toBe(true);
      expect(Number.isInteger(k.outputs) && k.outputs >= 1).toBe(true);
    }
    const ops = lowered.kernels.flatMap((k) => k.ops);
    expect(ops.filter((o) => o === 'sin')).toHaveLength(1);
    expect(ops).not.toContain('exp');
    expect(ops).toContain('add');
    // The text form lists every kernel by name.
    const text = lowered.asText();
    for (const k of lowered.kernels) expect(text).toContain(k.name);
  });

  test('lower uses the cache: lowering then calling traces once', () => {
    const { f: g, counter } = counted((x: NDArray) => np.cos(x));
    g.lower(np.ones([2]));
    g(np.ones([2]));
    expect(counter.traces).toBe(1);
  });

  test('makeJaxpr lists binders, equations with params, literals and outputs', () => {
    const text = makeJaxpr((x: NDArray) => np.multiply(np.sin(x), 2))(np.ones([3])).toString();
    expect(text).toBe(['{ lambda ; a:f32[3] . let', '    b:f32[3] = sin a', '    c:f32[3] = mul b 2.0:f32[]~', '  in ( c ) }'].join('\n'));
    const two = makeJaxpr((x: NDArray, y: NDArray) => [np.matmul(x, y), np.sum(x, { axis: 0 })])(np.ones([2, 3]), np.ones([3, 4])).toString();
    expect(two).toContain('a:f32[2,3] b:f32[3,4]');
    expect(two).toMatch(/c:f32\[2,4\] = dot_general\[lhsContract=\(1\) rhsContract=\(0\)[^\]]*\] a b/);
    expect(two).toContain('d:f32[3] = reduce_sum[axes=(0)] a');
    expect(two).toContain('in ( c d ) }');
  });

  test('CSE and constant pooling keep -0 and 0 apart', () => {
    const f = jit((x: NDArray) => [np.divide(x, 0), np.divide(x, -0)]);
    const [pos, neg] = f(np.array([1, 2]));
    expectClose(pos, [Infinity, Infinity]);
    expectClose(neg, [-Infinity, -Infinity]);
    expect(f.lower(np.array([1, 2])).jaxpr.jaxpr.eqns.filter((e) => e.prim === 'div')).toHaveLength(2);
    // Eager agrees: a JS -0 is a float (an int32 has no -0).
    expectClose(np.divide(np.array([1]), -0), [-Infinity]);
  });

  test('values captured by closure are fixed when the function is traced', () => {
    let scale = 2;
    const { f, counter } = counted((x: NDArray) => np.multiply(x, scale));
    expectClose(f(np.array([1])), [2]);
    scale = 3;
    expectClose(f(np.array([1])), [2]); // cached trace (JAX semantics): pass changing values as arguments
    expectClose(f(np.array([1, 1])), [3, 3]); // a new signature retraces and sees the new value
    expect(counter.traces).toBe(2);
  });

  test('makeJaxpr of a function of constants only still stages the operations', () => {
    const text = makeJaxpr((x: NDArray) => np.add(x, np.exp(np.ones([2]))))(np.ones([2])).toString();
    expect(text).toContain('exp');
    expect(text).toContain('broadcast_in_dim');
  });

  test('the gradient of a weight, x^T ct, is one matmul with no transposing copy', () => {
    const loss = (w: NDArray, x: NDArray) => np.sum(np.matmul(x, w));
    const text = makeJaxpr(grad(loss))(np.ones([5, 3]), np.ones([4, 5])).toString();
    expect(text).not.toContain('transpose');
    expect(makeJaxpr(grad(loss))(np.ones([2, 5, 3]), np.ones([2, 4, 5])).toString()).not.toContain('transpose');
  });
});

describe('outputs', () => {
  test('a pytree of outputs keeps its structure', () => {
    const f = jit((x: NDArray) => ({ s: np.sum(x), parts: [np.multiply(x, 2), { neg: np.negative(x) }] }));
    const out = f(np.array([1, 2]));
    expect(Object.keys(out).sort()).toEqual(['parts', 's']);
    expectClose(out.s, 3);
    expectClose(out.parts[0], [2, 4]);
    expectClose(out.parts[1].neg, [-1, -2]);
  });

  test('constants, JS numbers and captured arrays as outputs', () => {
    const captured = np.array([7, 8]);
    const f = jit((x: NDArray): any[] => [np.add(x, 1), 3, captured, np.ones([2], { dtype: 'int32' })]);
    const [a, b, c, d] = f(np.array([1]));
    expectClose(a, [2]);
    expect(b).toBeInstanceOf(NDArray);
    expect(b.item()).toBe(3);
    expectClose(c, [7, 8]);
    expectEqual(d, [1, 1], 'int32');
    // Again from the cache.
    const [, b2, c2, d2] = f(np.array([5]));
    expect(b2.item()).toBe(3);
    expectClose(c2, [7, 8]);
    expectEqual(d2, [1, 1], 'int32');
  });

  test('an input returned unchanged, and a reshape of an input', () => {
    const f = jit((x: NDArray) => [x, np.reshape(x, [2, 2]), np.reshape(x, [4]).T]);
    const x = np.array([[1, 2], [3, 4]]);
    const [same, r, flatT] = f(np.reshape(x, [4]));
    expectClose(same, [1, 2, 3, 4]);
    expectClose(r, [[1, 2], [3, 4]]);
    expectClose(flatT, [1, 2, 3, 4]);
    const [same2, r2] = f(np.array([5, 6, 7, 8]));
    expectClose(same2, [5, 6, 7, 8]);
    expectClose(r2, [[5, 6], [7, 8]]);
    // Earlier results are untouched.
    expectClose(r, [[1, 2], [3, 4]]);
  });

  test('several outputs sharing one value', () => {
    const f = jit((x: NDArray): any[] => {
      const y = np.exp(x);
      return [y, y, { again: y, reshaped: np.reshape(y, [1, 2]) }, np.add(y, 1)];
    });
    const [a, b, c, d] = f(np.array([0, 1]));
    for (const v of [a, b, c.again]) expectClose(v, [1, Math.E], { rtol: 1e-6 });
    expectClose(c.reshaped, [[1, Math.E]], { rtol: 1e-6 });
    expectClose(d, [2, Math.E + 1], { rtol: 1e-6 });
  });

  test('many calls with fresh inputs give fresh outputs that later calls do not overwrite', () => {
    const f = jit((x: NDArray, y: NDArray) => {
      const t = np.multiply(x, y); // an intermediate that can live in a pooled buffer
      return [np.add(t, 1), np.sum(t), np.reshape(np.subtract(t, x), [3])];
    });
    const results: { i: number; out: NDArray[] }[] = [];
    for (let i = 0; i < 50; i++) results.push({ i, out: f(np.array([i, i + 1, i + 2]), np.array([2, 3, -1])) });
    for (const { i, out } of results) {
      const t = [2 * i, 3 * (i + 1), -(i + 2)];
      expectClose(out[0], t.map((v) => v + 1));
      expectClose(out[1], t[0] + t[1] + t[2]);
      expectClose(out[2], t.map((v, k) => v - (i + k)));
    }
    // Distinct calls hold distinct storage.
    const a = results[0].out[0].data();
    const b = results[1].out[0].data();
    expect(a).not.toEqual(b);
  });

  test('inputs are never modified by a call', () => {
    const f = jit((x: NDArray) => np.add(np.multiply(x, 3), x));
    const x = np.array([1, 2, 3]);
    f(x);
    f(x);
    expectClose(x, [1, 2, 3]);
  });

  test('jit nested in jit and under vmap and grad gives the same values', () => {
    const inner = jit((x: NDArray) => np.multiply(np.sin(x), x));
    const outer = jit((x: NDArray) => np.add(inner(x), 1));
    const xs = [0.2, 1.1, -0.7];
    expectClose(outer(np.array(xs)), xs.map((v) => Math.sin(v) * v + 1), { rtol: 1e-6 });
    expectClose(vmap(inner)(np.array(xs)), xs.map((v) => Math.sin(v) * v), { rtol: 1e-6 });
    expect(grad(inner)(0.5).item()).toBeCloseTo(Math.cos(0.5) * 0.5 + Math.sin(0.5), 5);
  });
});

describe('escaped tracers', () => {
  test('a tracer stored in an outer variable by a jitted function fails clearly when used later', () => {
    let leaked: NDArray | undefined;
    const f = jit((x: NDArray) => {
      leaked = x;
      return np.multiply(x, 2);
    });
    expectClose(f(np.array([1, 2])), [2, 4]);
    expect(leaked).toBeDefined();
    expect(() => np.add(leaked as NDArray, 1)).toThrow(/traced array f32\[2\] from jit was used after that transformation ended/);
    expect(() => (leaked as NDArray).item()).toThrow(/cannot read the value of a traced array/);
  });

  test('a tracer leaked from grad and from vmap fails clearly', () => {
    let fromGrad: NDArray | undefined;
    grad((x: NDArray) => {
      fromGrad = x;
      return np.sin(x);
    })(1.0);
    expect(() => np.sin(fromGrad as NDArray)).toThrow(/escaped/);

    let fromVmap: NDArray | undefined;
    vmap((x: NDArray) => {
      fromVmap = x;
      return x;
    })(np.array([1, 2]));
    expect(() => np.multiply(fromVmap as NDArray, np.array(2))).toThrow(/from vmap was used after that transformation ended/);
  });

  test('a leaked tracer used inside a later jit fails instead of being baked in', () => {
    let leaked: NDArray | undefined;
    jit((x: NDArray) => {
      leaked = x;
      return x;
    })(np.array([1, 2]));
    const g = jit((y: NDArray) => np.add(y, leaked as NDArray));
    expect(() => g(np.array([3, 4]))).toThrow(/escaped/);
  });
});
