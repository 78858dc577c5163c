/**
 * @file optim: each optimizer's first steps against optax's formulas evaluated in float64, jit ≡
 * eager, vmap ≡ a loop, convergence on a quadratic, pytree params, clipping and masking, schedule
 * values, errors.
 */

import { Array as MgArray, grad, jit, numpy as np, optim, tree, vmap } from 'metalgrad';
import { expectClose, rng } from './util';

// ---------------------------------------------------------------------------------------------
// A quadratic over a pytree: L(p) = Σ ½ a·x² + c·x over every element x of every leaf, so that
// ∂L/∂x = a·x + c. The float64 reference works on the leaves flattened in tree order (b, then w).

type Params = { w: MgArray; b: MgArray };
const draw = rng(7);
const values = (n: number, lo: number, hi: number) => Array.from({ length: n }, () => draw(lo, hi));
const X0 = values(8, -2, 2);
const A = values(8, 0.5, 3);
const C = values(8, -1, 1);
/** Splits a flat vector into the params tree: b = v[0..2), w = v[2..8) as [2, 3]. */
const toTree = (v: number[]): Params => ({ b: np.array(v.slice(0, 2)), w: np.array(v.slice(2), { shape: [2, 3] }) });
const toFlat = (p: Params): number[] => tree.leaves(p).flatMap((l) => Array.from((l as MgArray).data(), Number));
const [aTree, cTree] = [toTree(A), toTree(C)];

const loss = (p: Params): MgArray =>
  (['b', 'w'] as const).reduce((acc: MgArray, k) => np.add(acc, np.sum(np.add(np.multiply(np.multiply(aTree[k], 0.5), np.square(p[k])), np.multiply(cTree[k], p[k])))), np.array(0));
const lossRef = (x: number[]) => x.reduce((acc, v, i) => acc + 0.5 * A[i] * v * v + C[i] * v, 0);

/** A float64 optimizer: given the gradient, the params and the step index, returns the update. */
type RefStep = (g: number[], x: number[], k: number) => number[];
type Lr = number | ((k: number) => number);
const lrAt = (lr: Lr, k: number) => (typeof lr === 'number' ? lr : lr(k));
const zeros = () => X0.map(() => 0);

function refSgd(lr: Lr, momentum?: number, nesterov = false): RefStep {
  const t = zeros();
  return (g, _x, k) =>
    g.map((gi, i) => {
      if (momentum === undefined) return -lrAt(lr, k) * gi;
      t[i] = gi + momentum * t[i];
      return -lrAt(lr, k) * (nesterov ? gi + momentum * t[i] : t[i]);
    });
}

function refAdam(lr: Lr, { b1 = 0.9, b2 = 0.999, eps = 1e-8, epsRoot = 0, weightDecay = 0, decayMask = (_i: number): boolean => true } = {}): RefStep {
  const [m, v] = [zeros(), zeros()];
  return (g, x, k) =>
    g.map((gi, i) => {
      m[i] = b1 * m[i] + (1 - b1) * gi;
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;
      const mHat = m[i] / (1 - b1 ** (k + 1));
      const vHat = v[i] / (1 - b2 ** (k + 1));
      const decay = decayMask(i) ? weightDecay * x[i] : 0;
      return -lrAt(lr, k) * (mHat / (Math.sqrt(vHat + epsRoot) + eps) + decay);
    });
}

function refRmsprop(lr: Lr, { decay = 0.9, eps = 1e-8, initialScale = 0, centered = false, momentum = undefined as number | undefined } = {}): RefStep {
  const [mu, nu, t] = [zeros(), X0.map(() => initialScale), zeros()];
  return (g, _x, k) =>
    g.map((gi, i) => {
      nu[i] = decay * nu[i] + (1 - decay) * gi * gi;
      mu[i] = decay * mu[i] + (1 - decay) * gi;
      const dir = gi / Math.sqrt((centered ? nu[i] - mu[i] * mu[i] : nu[i]) + eps);
      if (momentum === undefined) return -lrAt(lr, k) * dir;
      t[i] = dir + momentum * t[i];
      return -lrAt(lr, k) * t[i];
    });
}

/** Runs `steps` steps of `opt` eagerly and of `ref` in float64 from X0; compares the params after each. */
function compareSteps(opt: optim.GradientTransformation, ref: RefStep, steps = 3): void {
  let params = toTree(X0);
  let state = opt.init(params);
  let x = [...X0];
  for (let k = 0; k < steps; k++) {
    const g = grad(loss)(params) as Params;
    const [updates, next] = opt.update(g, state, params);
    params = optim.applyUpdates(params, updates);
    state = next;
    const gRef = x.map((v, i) => A[i] * v + C[i]);
    const u = ref(gRef, x, k);
    x = x.map((v, i) => v + u[i]);
    expectClose(np.array(toFlat(params)), x, { rtol: 2e-5, atol: 2e-6 });
  }
}

const schedule = (k: MgArray | number) => np.multiply(0.2, np.power(0.99, np.astype(k, 'float32')));
const scheduleRef = (k: number) => 0.2 * 0.99 ** k;

const OPTIMIZERS: [string, () => optim.GradientTransformation, () => RefStep][] = [
  ['sgd', () => optim.sgd({ learningRate: 0.1 }), () => refSgd(0.1)],
  ['sgd with momentum', () => optim.sgd({ learningRate: 0.1, momentum: 0.9 }), () => refSgd(0.1, 0.9)],
  ['sgd with nesterov momentum', () => optim.sgd({ learningRate: 0.1, momentum: 0.8, nesterov: true }), () => refSgd(0.1, 0.8, true)],
  ['sgd with a schedule', () => optim.sgd({ learningRate: schedule }), () => refSgd(scheduleRef)],
  ['adam', () => optim.adam({ learningRate: 0.1 }), () => refAdam(0.1)],
  ['adam with b1, b2, eps, epsRoot', () => optim.adam({ learningRate: 0.05, b1: 0.5, b2: 0.9, eps: 1e-3, epsRoot: 1e-4 }), () => refAdam(0.05, { b1: 0.5, b2: 0.9, eps: 1e-3, epsRoot: 1e-4 })],
  ['adam with a schedule', () => optim.adam({ learningRate: schedule }), () => refAdam(scheduleRef)],
  ['adamw', () => optim.adamw({ learningRate: 0.1, weightDecay: 0.3 }), () => refAdam(0.1, { weightDecay: 0.3 })],
  [
    'adamw with a mask (no decay of b)',
    () => optim.adamw({ learningRate: 0.1, weightDecay: 0.3, mask: { b: false, w: true } }),
    () => refAdam(0.1, { weightDecay: 0.3, decayMask: (i) => i >= 2 }),
  ],
  [
    'adamw with a mask function',
    () => optim.adamw({ learningRate: 0.1, weightDecay: 0.3, mask: (p: unknown) => tree.map((l: MgArray) => l.ndim > 1, p) }),
    () => refAdam(0.1, { weightDecay: 0.3, decayMask: (i) => i >= 2 }),
  ],
  ['rmsprop', () => optim.rmsprop({ learningRate: 0.05 }), () => refRmsprop(0.05)],
  ['rmsprop centered with initialScale', () => optim.rmsprop({ learningRate: 0.05, centered: true, initialScale: 1, decay: 0.8 }), () => refRmsprop(0.05, { centered: true, initialScale: 1, decay: 0.8 })],
  ['rmsprop with momentum', () => optim.rmsprop({ learningRate: 0.05, momentum: 0.5, eps: 1e-4 }), () => refRmsprop(0.05, { momentum: 0.5, eps: 1e-4 })],
];

describe.each(OPTIMIZERS)('%s', (_name, make, makeRef) => {
  test('first steps match the optax formulas in float64', () => compareSteps(make(), makeRef()));

  test('a jitted training step matches eager', () => {
    const opt = make();
    const step = (p: Params, s: unknown): [Params, unknown] => {
      const [u, next] = opt.update(grad(loss)(p) as Params, s, p);
      return [optim.applyUpdates(p, u), next];
    };
    const jitted = jit(step);
    let [pe, se] = [toTree(X0), opt.init(toTree(X0))];
    let [pj, sj] = [pe, se];
    for (let k = 0; k < 4; k++) {
      [pe, se] = step(pe, se);
      [pj, sj] = jitted(pj, sj);
    }
    expectClose(np.array(toFlat(pj)), toFlat(pe), { rtol: 1e-6, atol: 1e-7 });
    const [eagerLeaves, eagerDef] = tree.flatten(se);
    const [jitLeaves, jitDef] = tree.flatten(sj);
    expect(jitDef.toString()).toBe(eagerDef.toString());
    jitLeaves.forEach((l, i) => {
      const e = eagerLeaves[i] as MgArray;
      expect((l as MgArray).dtype).toBe(e.dtype);
      expectClose(l, e.toArray() as number[], { rtol: 1e-6, atol: 1e-7 });
    });
  });

  test('converges on the quadratic under jit', () => {
    const opt = make();
    const step = jit((p: Params, s: unknown): [Params, unknown] => {
      const [u, next] = opt.update(grad(loss)(p) as Params, s, p);
      return [optim.applyUpdates(p, u), next];
    });
    let [p, s] = [toTree(X0), opt.init(toTree(X0))];
    for (let k = 0; k < 300; k++) [p, s] = step(p, s);
    // Near the minimum of the quadratic (weight decay moves the fixed point a little).
    const best = lossRef(A.map((a, i) => -C[i] / a));
    const start = lossRef(X0);
    expect(loss(p).item() - best).toBeLessThan(0.05 * (start - best));
  });
});

describe('state', () => {
  test('adam keeps an int32 step count that counts the updates', () => {
    const opt = optim.adam({ learningRate: 0.1 });
    let s = opt.init(toTree(X0));
    const g = grad(loss)(toTree(X0)) as Params;
    for (let k = 0; k < 3; k++) [, s] = jit((gr: Params, st: unknown) => opt.update(gr, st))(g, s);
    const count = (s as [{ count: MgArray }])[0].count;
    expect(count.dtype).toBe('int32');
    expect(count.item()).toBe(3);
  });

  test('vmap of init and a training step (an ensemble of three models) matches a loop', () => {
    const opt = optim.adam({ learningRate: optim.cosineDecaySchedule({ initValue: 0.1, decaySteps: 10 }) });
    const quadratic = (p: MgArray) => np.sum(np.square(np.subtract(p, 3)));
    const step = (p: MgArray, s: unknown): [MgArray, unknown] => {
      const [u, next] = opt.update(grad(quadratic)(p) as MgArray, s, p);
      return [optim.applyUpdates(p, u), next];
    };
    const starts = [[1, 2], [5, 6], [0, 0]];
    let [ps, ss] = [np.array(starts), vmap((p: MgArray) => opt.init(p))(np.array(starts))];
    for (let k = 0; k < 3; k++) [ps, ss] = vmap(step)(ps, ss);
    const loop = starts.map((start) => {
      let [p, s] = [np.array(start), opt.init(np.array(start))];
      for (let k = 0; k < 3; k++) [p, s] = step(p, s);
      return p.toArray() as number[];
    });
    expectClose(ps, loop, { rtol: 1e-6, atol: 1e-7 });
    expect(tree.leaves(ss).map((l) => (l as MgArray).shape[0])).toEqual([3, 3, 3, 3]);
  });

  test('sgd without momentum has no per-parameter state', () => {
    expect(tree.leaves(optim.sgd({ learningRate: 0.1 }).init(toTree(X0)))).toHaveLength(0);
  });

  test('params given as JS numbers and nested arrays work', () => {
    const opt = optim.sgd({ learningRate: 0.5, momentum: 0.5 });
    const params = { a: 1, list: [np.array([1, 2]), 3] };
    const grads = { a: 2, list: [np.array([1, -1]), 4] };
    const [u, s] = opt.update(grads, opt.init(params), params);
    const next = optim.applyUpdates(params, u) as unknown as { a: MgArray; list: [MgArray, MgArray] };
    expectClose(next.a, 0);
    expectClose(next.list[0], [0.5, 2.5]);
    expectClose(next.list[1], 1);
    const [u2] = opt.update(grads, s, params);
    expectClose((u2 as unknown as { a: MgArray }).a, -0.5 * (2 + 0.5 * 2));
  });

  test('applyUpdates keeps the params dtype', () => {
    const p = optim.applyUpdates({ w: np.array([1, 2]), n: np.array([3], { dtype: 'int32' }) }, { w: np.array([0.5, 0.5]), n: np.array([1], { dtype: 'int32' }) }) as Record<string, MgArray>;
    expect(p.w.dtype).toBe('float32');
    expect(p.n.dtype).toBe('int32');
    expect(p.n.item()).toBe(4);
  });
});

describe('clipping and chaining', () => {
  const updates = () => ({ a: np.array([3, 4]), b: np.array([[12]]) }); // global norm 13

  test('globalNorm', () => {
    expectClose(optim.globalNorm(updates()), 13);
  });

  test('clipByGlobalNorm rescales all leaves together when the norm is above maxNorm', () => {
    const clip = optim.clipByGlobalNorm(6.5);
    const [u] = clip.update(updates(), clip.init(updates()));
    expectClose((u as Record<string, MgArray>).a, [1.5, 2]);
    expectClose((u as Record<string, MgArray>).b, [[6]]);
    expectClose(optim.globalNorm(u), 6.5);
  });

  test('clipByGlobalNorm leaves updates below maxNorm unchanged, also under jit', () => {
    const clip = optim.clipByGlobalNorm(20);
    const [u] = jit((x: unknown) => clip.update(x, {}))(updates());
    expectClose((u as Record<string, MgArray>).a, [3, 4]);
    expectClose((u as Record<string, MgArray>).b, [[12]]);
  });

  test('clip clips elementwise', () => {
    const [u] = optim.clip(3.5).update(updates(), {});
    expectClose((u as Record<string, MgArray>).a, [3, 3.5]);
  });

  test('chain(clipByGlobalNorm, sgd) clips before the learning rate', () => {
    const opt = optim.chain(optim.clipByGlobalNorm(1.3), optim.sgd({ learningRate: 2 }));
    const state = opt.init(updates());
    expect(Array.isArray(state)).toBe(true);
    const [u] = opt.update(updates(), state);
    expectClose((u as Record<string, MgArray>).a, [-0.6, -0.8]);
    expectClose((u as Record<string, MgArray>).b, [[-2.4]]);
  });

  test('masked applies the inner transformation to the masked leaves only', () => {
    const opt = optim.masked(optim.sgd({ learningRate: 1, momentum: 0.5 }), { a: true, b: false });
    const state = opt.init(updates());
    expect(tree.leaves(state)).toHaveLength(1); // the momentum of `a` only
    const [u, s] = opt.update(updates(), state);
    const [u2] = opt.update(updates(), s);
    expectClose((u as Record<string, MgArray>).a, [-3, -4]);
    expectClose((u2 as Record<string, MgArray>).a, [-4.5, -6]);
    expectClose((u2 as Record<string, MgArray>).b, [[12]]);
  });

  test('a schedule is evaluated at counts 0, 1, 2, ... by scaleBySchedule', () => {
    const opt = optim.scaleBySchedule((k) => np.add(k, 1));
    let s = opt.init(updates());
    const seen: number[] = [];
    for (let k = 0; k < 3; k++) {
      const [u, next] = opt.update({ x: np.array(1) }, s);
      seen.push((u as { x: MgArray }).x.item());
      s = next;
    }
    expect(seen).toEqual([1, 2, 3]);
  });
});

describe('schedules', () => {
  const cos = (init: number, steps: number, alpha: number, exponent: number) => (k: number) =>
    init * ((1 - alpha) * (0.5 * (1 + Math.cos((Math.PI * Math.min(k, steps)) / steps))) ** exponent + alpha);
  const rows: [string, optim.Schedule, (k: number) => number][] = [
    ['constantSchedule', optim.constantSchedule(0.3), () => 0.3],
    ['exponentialDecay', optim.exponentialDecay({ initValue: 2, transitionSteps: 4, decayRate: 0.5 }), (k) => 2 * 0.5 ** (k / 4)],
    [
      'exponentialDecay staircase with begin and endValue',
      optim.exponentialDecay({ initValue: 2, transitionSteps: 3, decayRate: 0.5, transitionBegin: 2, staircase: true, endValue: 0.6 }),
      (k) => (k <= 2 ? 2 : Math.max(0.6, 2 * 0.5 ** Math.floor((k - 2) / 3))),
    ],
    ['exponentialDecay growing to a ceiling', optim.exponentialDecay({ initValue: 1, transitionSteps: 2, decayRate: 2, endValue: 5 }), (k) => Math.min(5, 2 ** (k / 2))],
    ['cosineDecaySchedule', optim.cosineDecaySchedule({ initValue: 0.5, decaySteps: 10 }), cos(0.5, 10, 0, 1)],
    ['cosineDecaySchedule with alpha and exponent', optim.cosineDecaySchedule({ initValue: 0.5, decaySteps: 7, alpha: 0.1, exponent: 2 }), cos(0.5, 7, 0.1, 2)],
    ['linearSchedule', optim.linearSchedule({ initValue: 1, endValue: 0.2, transitionSteps: 8, transitionBegin: 2 }), (k) => 1 - 0.8 * Math.min(Math.max(k - 2, 0), 8) / 8],
    ['polynomialSchedule', optim.polynomialSchedule({ initValue: 1, endValue: 0, transitionSteps: 10, power: 2 }), (k) => (1 - Math.min(k, 10) / 10) ** 2],
    [
      'warmupCosineDecaySchedule',
      optim.warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 4, decaySteps: 14, endValue: 0.1 }),
      (k) => (k < 4 ? k / 4 : cos(1, 10, 0.1, 1)(k - 4)),
    ],
    ['warmupCosineDecaySchedule without warm-up', optim.warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 0, decaySteps: 10 }), cos(1, 10, 0, 1)],
    [
      'piecewiseConstantSchedule',
      optim.piecewiseConstantSchedule({ initValue: 1, boundariesAndScales: { 10: 0.5, 3: 0.1 } }),
      (k) => (k < 3 ? 1 : k < 10 ? 0.1 : 0.05),
    ],
    [
      'joinSchedules',
      optim.joinSchedules([optim.constantSchedule(1), optim.linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 4 })], [5]),
      (k) => (k < 5 ? 1 : 1 - Math.min(k - 5, 4) / 4),
    ],
  ];
  const counts = [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 14, 20];

  test.each(rows)('%s: values at counts 0..20, eager and under jit', (_name, s, ref) => {
    const expected = counts.map(ref);
    expectClose(np.stack(counts.map((k) => s(k))), expected, { rtol: 1e-5, atol: 1e-6 });
    const jitted = jit((k: MgArray) => s(k));
    expectClose(np.stack(counts.map((k) => jitted(np.array(k, { dtype: 'int32' })))), expected, { rtol: 1e-5, atol: 1e-6 });
  });
});

describe('errors', () => {
  const params = () => ({ w: np.ones([2]), b: np.zeros([1]) });
  test.each([
    ['adam without a learning rate', () => optim.adam({} as optim.AdamOptions), /^optim\.adam: argument `learningRate` must be a finite number or a schedule \(a function of the step count\), received undefined$/],
    ['adam with options that are not an object', () => optim.adam(0.1 as unknown as optim.AdamOptions), /^optim\.adam: argument `options` must be an options object such as \{learningRate, b1, b2, eps\}, received number 0.1$/],
    ['adam with b1 = 1', () => optim.adam({ learningRate: 0.1, b1: 1 }), /^optim\.adam: argument `b1` must be a number in \[0, 1\), received number 1$/],
    ['sgd with a string learning rate', () => optim.sgd({ learningRate: '0.1' as unknown as number }), /^optim\.sgd: argument `learningRate` must be a finite number or a schedule/],
    ['sgd with nesterov but no momentum', () => optim.sgd({ learningRate: 0.1, nesterov: true }), /^optim\.sgd: argument `momentum` must be a number when nesterov is true/],
    ['rmsprop with a negative eps', () => optim.rmsprop({ learningRate: 0.1, eps: -1 }), /^optim\.rmsprop: argument `eps` must be a non-negative number, received number -1$/],
    ['clipByGlobalNorm(0)', () => optim.clipByGlobalNorm(0), /^optim\.clipByGlobalNorm: argument `maxNorm` must be a positive number, received number 0$/],
    ['chain of a non-transformation', () => optim.chain(optim.identity(), {} as optim.GradientTransformation), /^optim\.chain: argument `transforms\[1\]` must be a gradient transformation/],
    [
      'update with grads of another structure',
      () => {
        const opt = optim.adam({ learningRate: 0.1 });
        opt.update({ w: np.ones([2]) }, opt.init(params()));
      },
      /^optim\.adam\.update: argument `updates` has the tree structure \{w: \*\}, expected \{b: \*, w: \*\} \(the structure of `state\.mu`\)$/,
    ],
    [
      'update with a state from another optimizer',
      () => optim.adam({ learningRate: 0.1 }).update(params(), optim.sgd({ learningRate: 0.1 }).init(params())),
      /^optim\.adam\.update: argument `state` must be the state returned by optim\.adam's init or update \(an object \{count, mu, nu\}\), received an object$/,
    ],
    [
      'update with no state',
      () => optim.sgd({ learningRate: 0.1 }).update(params(), undefined),
      /^optim\.sgd\.update: argument `state` must be the state returned by optim\.sgd's init or update \(a JS array of 2 states\), received undefined$/,
    ],
    [
      'adamw update without params',
      () => {
        const opt = optim.adamw({ learningRate: 0.1 });
        opt.update(params(), opt.init(params()));
      },
      /^optim\.adamw\.update: argument `params` must be the current params \(weight decay reads them\), received undefined$/,
    ],
    [
      'adamw with a mask of the wrong structure',
      () => optim.adamw({ learningRate: 0.1, mask: { w: true } }).init(params()),
      /^optim\.adamw: argument `mask` must be a tree of booleans with the structure of the params, \{b: \*, w: \*\}, received an object$/,
    ],
    [
      'masked weight decay with params of another structure',
      () => {
        const opt = optim.adamw({ learningRate: 0.1, mask: { b: false, w: true } });
        opt.update(params(), opt.init(params()), { w: np.ones([2]) } as unknown as ReturnType<typeof params>);
      },
      /^optim\.adamw\.update: argument `params` has the tree structure \{w: \*\}, expected \{b: \*, w: \*\} \(the structure of `updates`\)$/,
    ],
    ['applyUpdates with mismatched trees', () => optim.applyUpdates(params(), { w: np.ones([2]) }), /^optim\.applyUpdates: argument `updates` has the tree structure \{w: \*\}, expected \{b: \*, w: \*\} \(the structure of `params`\)$/],
    ['cosineDecaySchedule with 0 steps', () => optim.cosineDecaySchedule({ initValue: 1, decaySteps: 0 }), /^optim\.cosineDecaySchedule: argument `decaySteps` must be a positive number, received number 0$/],
    [
      'warmupCosineDecaySchedule with decaySteps <= warmupSteps',
      () => optim.warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 10, decaySteps: 10 }),
      /^optim\.warmupCosineDecaySchedule: argument `decaySteps` must be a number greater than warmupSteps \(10\), received number 10$/,
    ],
    ['exponentialDecay with a negative transitionSteps', () => optim.exponentialDecay({ initValue: 1, transitionSteps: -1, decayRate: 0.5 }), /^optim\.exponentialDecay: argument `transitionSteps` must be a positive number/],
    ['piecewiseConstantSchedule with a negative scale', () => optim.piecewiseConstantSchedule({ initValue: 1, boundariesAndScales: { 5: -1 } }), /^optim\.piecewiseConstantSchedule: argument `boundariesAndScales\[5\]` must be a non-negative scale, received number -1$/],
    ['piecewiseConstantSchedule with a non-integer boundary', () => optim.piecewiseConstantSchedule({ initValue: 1, boundariesAndScales: { 2.5: 1 } }), /^optim\.piecewiseConstantSchedule: argument `boundariesAndScales` must be keys that are non-negative integer step counts, received string "2.5"$/],
    ['joinSchedules with too few boundaries', () => optim.joinSchedules([optim.constantSchedule(1), optim.constantSchedule(2)], []), /^optim\.joinSchedules: argument `boundaries` must be a JS array of 1 step counts/],
    ['a schedule called with a string count', () => optim.cosineDecaySchedule({ initValue: 1, decaySteps: 3 })('x' as unknown as number), /^optim\.cosineDecaySchedule: argument `count` must be an array/],
  ] as [string, () => unknown, RegExp][])('%s', (_name, thunk, message) => {
    expect(thunk).toThrow(message);
  });
});
