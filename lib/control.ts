/**
 * @file lax control flow: cond, switch, whileLoop, foriLoop, scan. Each traces its functions once
 * into jaxprs (values they capture from outside become explicit operands) and binds one
 * higher-order primitive, so loops stay loops in the IR under every transformation.
 */

import { NDArray } from './core/array';
import { ShapedArray } from './core/aval';
import { ConcreteArray, fromScalar } from './core/concrete';
import { describe, typeError } from './core/errors';
import { bind, Value } from './core/trace';
import { flatten, LEAF, TreeDef, unflatten } from './core/tree';
import { evalJaxpr } from './ir/eval';
import { ClosedJaxpr, Jaxpr, Var } from './ir/jaxpr';
import { traceToJaxpr } from './ir/stage';
import * as lax from './lax';
import { flattenArgs, flattenResult, leafToValue } from './transforms/common';

interface Traced {
  jaxpr: Jaxpr;
  consts: Value[];
  outDef: TreeDef;
}

/** Traces `f(...unflatten(def, leaves))` on abstract values; `fn` names the API in errors. */
function traceFn(fn: string, f: (...args: any[]) => unknown, def: TreeDef, avals: ShapedArray[]): Traced {
  const store: { out?: TreeDef } = {};
  const closed = traceToJaxpr((...xs) => flattenResult(fn, f(...unflatten<unknown[]>(def, xs)), store), avals, fn);
  return { jaxpr: closed.jaxpr, consts: closed.consts, outDef: store.out as TreeDef };
}

/** A closed jaxpr whose captured constants become its first inputs, after `before` and before `after` (unused binders for other branches' constants). */
function hoist(t: Traced, before: ShapedArray[] = [], after: ShapedArray[] = []): ClosedJaxpr {
  const { jaxpr } = t;
  const unused = (avals: ShapedArray[]): Var[] => avals.map((a) => new Var(a));
  return new ClosedJaxpr(new Jaxpr([], [...unused(before), ...jaxpr.constvars, ...unused(after), ...jaxpr.inBinders], jaxpr.eqns, jaxpr.outs), []);
}

/** Re-traces `closed` with its outputs converted to `avals`' weak types (branches/bodies must agree exactly). */
function withOutAvals(closed: ClosedJaxpr, avals: ShapedArray[]): ClosedJaxpr {
  if (closed.outAvals.every((a, i) => a.equals(avals[i]))) return closed;
  return traceToJaxpr((...xs) => evalJaxpr(closed, xs).map((o, i) => lax.convert(o, avals[i].dtype, avals[i].weakType)), closed.inAvals, 'convert');
}

const sameType = (a: ShapedArray, b: ShapedArray): boolean => a.dtype === b.dtype && a.ndim === b.ndim && a.shape.every((d, i) => d === b.shape[i]);
const strong = (a: ShapedArray): ShapedArray => a.withWeak(false);

function checkFn(fn: string, arg: string, f: unknown): void {
  if (typeof f !== 'function') throw typeError(fn, arg, 'a function', f);
}

/** A scalar control value (predicate or index) as an array, or a clear error. */
function scalarOperand(fn: string, arg: string, x: unknown, allowed: string[]): Value {
  let v: Value;
  if (typeof x === 'boolean') v = fromScalar(x ? 1 : 0, 'bool');
  else if (typeof x === 'number') {
    if (!Number.isInteger(x)) throw typeError(fn, arg, `a ${allowed.join(' or ')} scalar (an integer JS number)`, x);
    v = fromScalar(x, 'int32');
  } else if (x instanceof NDArray) v = x;
  else throw typeError(fn, arg, `a ${allowed.join(' or ')} scalar`, x);
  if (v.ndim !== 0) throw new TypeError(`${fn}: argument \`${arg}\` must be a scalar (shape []), received an array of shape [${v.shape.join(', ')}]`);
  if (!allowed.includes(v.dtype)) throw new TypeError(`${fn}: argument \`${arg}\` must have dtype ${allowed.join(' or ')}, received ${v.dtype}`);
  return v;
}

/** Tree structure and abstract values of the branches' outputs must agree; weak types are unified. */
function unifyBranches(fn: string, names: string[], traced: Traced[]): ClosedJaxpr[] {
  const first = traced[0];
  traced.forEach((t, i) => {
    if (!t.outDef.equals(first.outDef)) throw new TypeError(`${fn}: ${names[0]} and ${names[i]} must return the same tree structure, received ${first.outDef} and ${t.outDef}`);
    t.jaxpr.outs.forEach((o, j) => {
      const a = first.jaxpr.outs[j].aval;
      if (!sameType(a, o.aval)) throw new TypeError(`${fn}: ${names[0]} and ${names[i]} must return identical types, but output leaf ${j} is ${a} from ${names[0]} and ${o.aval} from ${names[i]}`);
    });
  });
  const outAvals = first.jaxpr.outs.map((o, j) => (traced.every((t) => t.jaxpr.outs[j].aval.weakType) ? o.aval : strong(o.aval)));
  const constAvals = traced.map((t) => t.jaxpr.constvars.map((v) => v.aval));
  return traced.map((t, i) => withOutAvals(hoist(t, constAvals.slice(0, i).flat(), constAvals.slice(i + 1).flat()), outAvals));
}

function switchImpl(fn: string, names: string[], index: Value, branches: ((...args: any[]) => unknown)[], operands: unknown[]): unknown {
  const [leaves, def] = flattenArgs(fn, operands, 'operands');
  const avals = leaves.map((l) => l.aval);
  const traced = branches.map((b) => traceFn(fn, b, def, avals));
  const closed = unifyBranches(fn, names, traced);
  const consts = traced.flatMap((t) => t.consts);
  const outs = bind('cond', [index, ...consts, ...leaves], { branches: closed });
  return unflatten(traced[0].outDef, outs);
}

/**
 * `lax.cond(pred, trueFn, falseFn, ...operands)`: `trueFn(...operands)` if `pred` else
 * `falseFn(...operands)`. `pred` is a bool (or integer, nonzero is true) scalar; both functions
 * must return the same tree of arrays with the same shapes and dtypes.
 */
export function cond(pred: unknown, trueFn: (...args: any[]) => any, falseFn: (...args: any[]) => any, ...operands: unknown[]): any {
  const p = scalarOperand('lax.cond', 'pred', pred, ['bool', 'int32', 'uint32']);
  checkFn('lax.cond', 'trueFn', trueFn);
  checkFn('lax.cond', 'falseFn', falseFn);
  const truth = p.dtype === 'bool' ? p : lax.ne(p, fromScalar(0, p.dtype));
  return switchImpl('lax.cond', ['falseFn', 'trueFn'], lax.convert(truth, 'int32'), [falseFn, trueFn], operands);
}

/**
 * `lax.switch(index, branches, ...operands)`: `branches[index](...operands)`, with `index` (an
 * integer scalar) clamped to the valid range, as JAX.
 */
export function switchBranches(index: unknown, branches: ((...args: any[]) => any)[], ...operands: unknown[]): any {
  const fn = 'lax.switch';
  const i = scalarOperand(fn, 'index', index, ['int32', 'uint32']);
  if (!globalThis.Array.isArray(branches) || branches.length === 0) throw typeError(fn, 'branches', 'a non-empty JS array of functions', branches);
  branches.forEach((b, k) => checkFn(fn, `branches[${k}]`, b));
  if (branches.length === 1) return branches[0](...operands);
  const last = fromScalar(branches.length - 1, 'int32');
  const clamped = lax.max(lax.min(lax.convert(i, 'int32'), last), fromScalar(0, 'int32'));
  return switchImpl(fn, branches.map((_, k) => `branches[${k}]`), clamped, branches, operands);
}

/** Flattens a pytree argument into values. */
function flattenTree(fn: string, tree: unknown, root: string): [Value[], TreeDef] {
  const [leaves, def] = flatten(tree, fn, root);
  return [leaves.map((l, i) => leafToValue(fn, `${root} leaf ${i}`, l)), def];
}

/** Flattens a loop carry; weak types are made strong so that the body's results can match them. */
function flattenCarry(fn: string, init: unknown): [Value[], TreeDef] {
  const [leaves, def] = flattenTree(fn, init, 'init');
  return [leaves.map((l) => lax.convert(l, l.dtype, false)), def];
}

/** A loop body's result must have the structure and types of the carry (weak types are converted). */
function checkLike(fn: string, what: string, carry: unknown, result: unknown): void {
  const [cl, cd] = flatten(carry, fn, 'init');
  const [rl, rd] = flatten(result, fn, what);
  if (!rd.equals(cd)) throw new TypeError(`${fn}: ${what} must have the tree structure of \`init\`, ${cd}, received ${rd}`);
  rl.forEach((l, j) => {
    const a = leafToValue(fn, what, l).aval;
    const b = (cl[j] as Value).aval;
    if (!sameType(a, b)) throw new TypeError(`${fn}: ${what} must keep the types of \`init\`: leaf ${j} is ${b} in init but ${a} in ${what}`);
  });
}

export interface ScanOptions {
  /** The number of iterations; needed when `xs` holds no arrays. */
  length?: number;
  /** Scan from the last element of `xs` to the first (ys keep their positions). */
  reverse?: boolean;
}

/**
 * `lax.scan(f, init, xs, {length, reverse})` → `[carry, ys]`: `f(carry, x)` returns `[carry, y]`
 * for each leading-axis slice `x` of `xs` (a pytree); the ys are stacked along a new leading axis.
 */
export function scan(f: (carry: any, x: any) => [any, any], init: unknown, xs?: unknown, options: ScanOptions = {}): [any, any] {
  const fn = 'lax.scan';
  checkFn(fn, 'f', f);
  if (typeof options !== 'object' || options === null) throw typeError(fn, 'options', 'an object {length?, reverse?}', options);
  const { length: given, reverse = false } = options;
  if (given !== undefined && (typeof given !== 'number' || !Number.isInteger(given) || given < 0)) throw typeError(fn, 'length', 'a non-negative integer', given);
  if (typeof reverse !== 'boolean') throw typeError(fn, 'reverse', 'a boolean', reverse);
  const [carry, carryDef] = flattenCarry(fn, init);
  const [xLeaves, xDef] = flattenTree(fn, xs, 'xs');
  xLeaves.forEach((x, i) => {
    if (x.ndim === 0) throw new TypeError(`${fn}: argument \`xs\` leaves must have a leading axis to scan over, but leaf ${i} is a scalar ${x.aval}`);
  });
  const lengths = xLeaves.map((x) => x.shape[0]);
  if (lengths.some((n) => n !== lengths[0])) {
    throw new Error(`${fn}: argument \`xs\` leaves must all have the same leading axis size, received ${xLeaves.map((x) => `[${x.shape.join(', ')}]`).join(', ')}`);
  }
  if (given !== undefined && lengths.length > 0 && given !== lengths[0]) throw new Error(`${fn}: argument \`length\` is ${given}, but the leading axis of \`xs\` has size ${lengths[0]}`);
  const length = given ?? lengths[0];
  if (length === undefined) throw new TypeError(`${fn}: argument \`length\` must be given when \`xs\` holds no arrays`);
  const carryAvals = carry.map((c) => c.aval);
  const xAvals = xLeaves.map((x) => new ShapedArray(x.shape.slice(1), x.dtype, x.weakType));
  const argsDef = new TreeDef('array', [carryDef, xDef]);
  const body = (c: unknown, x: unknown): unknown => {
    const out = f(c, x);
    if (!globalThis.Array.isArray(out) || out.length !== 2) throw new TypeError(`${fn}: f must return a pair [carry, y], received ${describe(out)}`);
    checkLike(fn, 'the carry returned by f', c, out[0]);
    return out;
  };
  const traced = traceFn(fn, body, argsDef, [...carryAvals, ...xAvals]);
  const { children } = traced.outDef;
  const nk = carry.length;
  const outAvals = [...carryAvals, ...traced.jaxpr.outs.slice(nk).map((o) => o.aval)];
  const jaxpr = withOutAvals(hoist(traced), outAvals);
  const outs = bind('scan', [...traced.consts, ...carry, ...xLeaves], { jaxpr, numConsts: traced.consts.length, numCarry: nk, length, reverse });
  return [unflatten(carryDef, outs.slice(0, nk)), unflatten(children[1], outs.slice(nk))];
}

/** `lax.whileLoop(condFn, bodyFn, init)`: `carry = bodyFn(carry)` while `condFn(carry)` (a bool scalar). */
export function whileLoop(condFn: (carry: any) => any, bodyFn: (carry: any) => any, init: unknown): any {
  const fn = 'lax.whileLoop';
  checkFn(fn, 'condFn', condFn);
  checkFn(fn, 'bodyFn', bodyFn);
  const [carry, carryDef] = flattenCarry(fn, init);
  const avals = carry.map((c) => c.aval);
  const argsDef = new TreeDef('array', [carryDef]);
  const c = traceFn(fn, condFn, argsDef, avals);
  const pred = c.jaxpr.outs.map((o) => o.aval);
  if (!c.outDef.equals(LEAF) || pred[0].ndim !== 0 || pred[0].dtype !== 'bool') {
    throw new TypeError(`${fn}: condFn must return a bool scalar, received ${pred.length === 1 ? pred[0] : `${c.outDef} with ${pred.join(', ')}`}`);
  }
  const b = traceFn(fn, checkedBody(fn, bodyFn), argsDef, avals);
  const outs = bind('while', [...c.consts, ...b.consts, ...carry], {
    condJaxpr: withOutAvals(hoist(c), [pred[0].withWeak(false)]),
    bodyJaxpr: withOutAvals(hoist(b), avals),
    condNconsts: c.consts.length,
    bodyNconsts: b.consts.length,
  });
  return unflatten(carryDef, outs);
}

/** `bodyFn` with its result checked against its carry argument. */
function checkedBody(fn: string, bodyFn: (...args: any[]) => unknown): (...args: any[]) => unknown {
  return (...args) => {
    const out = bodyFn(...args);
    checkLike(fn, 'the result of bodyFn', args[args.length - 1], out);
    return out;
  };
}

/** A loop bound: a JS integer or concrete scalar is static; a traced scalar is dynamic. */
function bound(fn: string, arg: string, x: unknown): number | Value {
  if (typeof x === 'number') {
    if (!Number.isInteger(x)) throw typeError(fn, arg, 'an integer', x);
    return x;
  }
  const v = scalarOperand(fn, arg, x, ['int32', 'uint32']);
  return v instanceof ConcreteArray ? v.item() : v;
}

/**
 * `lax.foriLoop(lower, upper, bodyFn, init)`: `val = bodyFn(i, val)` for i from lower to upper - 1.
 * With static bounds (JS integers or concrete arrays) it is a scan, so reverse mode works; with
 * traced bounds it is a whileLoop (forward mode only, as JAX).
 */
export function foriLoop(lower: unknown, upper: unknown, bodyFn: (i: any, val: any) => any, init: unknown): any {
  const fn = 'lax.foriLoop';
  checkFn(fn, 'bodyFn', bodyFn);
  const body = checkedBody(fn, bodyFn);
  const lo = bound(fn, 'lower', lower);
  const hi = bound(fn, 'upper', upper);
  if (typeof lo === 'number' && typeof hi === 'number') {
    const [[, val]] = scan(([i, v]: [Value, unknown]) => [[lax.add(i, fromScalar(1, 'int32')), body(i, v)], null], [fromScalar(lo, 'int32'), init], null, { length: Math.max(0, hi - lo) });
    return val;
  }
  const asInt = (b: number | Value): Value => (typeof b === 'number' ? fromScalar(b, 'int32') : lax.convert(b, 'int32'));
  const [, , val] = whileLoop(
    ([i, u]: Value[]) => lax.lt(i, u),
    ([i, u, v]: [Value, Value, unknown]) => [lax.add(i, fromScalar(1, 'int32')), u, body(i, v)],
    [asInt(lo), asInt(hi), init],
  );
  return val;
}

export { switchBranches as switch };
