/** @file Shared plumbing for transformations: argument conversion and pytree-flattened calls. */

import { NDArray } from '../core/array';
import { fromScalar } from '../core/concrete';
import { typeError } from '../core/errors';
import { Value } from '../core/trace';
import { flatten, Leaf, TreeDef, unflatten } from '../core/tree';

/** A function argument leaf as a value: JS numbers become (weakly typed) float32 scalars, booleans bool. */
export function leafToValue(fn: string, arg: string, x: Leaf): Value {
  if (x instanceof NDArray) return x;
  if (typeof x === 'number') return fromScalar(x, 'float32', true);
  if (typeof x === 'boolean') return fromScalar(x ? 1 : 0, 'bool', true);
  throw typeError(fn, arg, 'an array or a number', x);
}

export function checkFunction(fn: string, f: unknown): void {
  if (typeof f !== 'function') throw typeError(fn, 'f', 'a function', f);
}

/**
 * Calls `f` on the tree `def` rebuilt from `leaves`, and flattens its result. `store.out` records
 * the output structure.
 */
export function callFlat(fn: string, f: (...args: any[]) => unknown, def: TreeDef, leaves: Value[], store: { out?: TreeDef }): Value[] {
  return flattenResult(fn, f(...unflatten<unknown[]>(def, leaves)), store);
}

/** Flattens a function's result into values, recording its structure in `store.out`. */
export function flattenResult(fn: string, result: unknown, store: { out?: TreeDef }): Value[] {
  const [outLeaves, outDef] = flatten(result, fn, 'output');
  store.out = outDef;
  return outLeaves.map((l, i) => leafToValue(fn, `output leaf ${i}`, l));
}

export function flattenArgs(fn: string, args: unknown[], root = 'args'): [Value[], TreeDef] {
  const [leaves, def] = flatten(args, fn, root);
  return [leaves.map((l, i) => leafToValue(fn, `args leaf ${i}`, l)), def];
}

export function normalizeArgnums(fn: string, argnums: unknown, nargs: number): { list: number[]; single: boolean } {
  const single = argnums === undefined || typeof argnums === 'number';
  const list = argnums === undefined ? [0] : typeof argnums === 'number' ? [argnums] : argnums;
  if (!globalThis.Array.isArray(list) || list.length === 0) throw typeError(fn, 'argnums', 'an integer or a non-empty array of integers', argnums);
  const out = list.map((a) => {
    if (typeof a !== 'number' || !Number.isInteger(a)) throw typeError(fn, 'argnums', 'an integer or a non-empty array of integers', argnums);
    const i = a < 0 ? a + nargs : a;
    if (i < 0 || i >= nargs) throw new RangeError(`${fn}: argnums ${a} is out of range for a call with ${nargs} positional argument(s)`);
    return i;
  });
  return { list: out, single };
}

/** How errors name the list of differentiated arguments: `args` when it is a prefix of them. */
export function argnumsRoot(argnums: number[]): string {
  return argnums.every((a, i) => a === i) ? 'args' : `differentiated args (argnums [${argnums.join(', ')}])`;
}
