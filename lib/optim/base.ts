/**
 * @file optim's building blocks: the gradient-transformation interface (as optax's), pytree helpers
 * whose errors name the optimizer, `chain`, `identity` and `applyUpdates`.
 */

import { NDArray } from '../core/array';
import { typeError } from '../core/errors';
import { flatten, TreeDef, unflatten } from '../core/tree';
import * as np from '../numpy';
import { asArray } from '../numpy/util';

/** An optimizer state: a pytree of arrays (so it can be passed through `jit`). */
export type OptState = unknown;

/**
 * A gradient transformation, as in optax: `init(params)` builds the state; `update(updates, state,
 * params?)` returns the transformed updates (for an optimizer: already negated, to be added to the
 * params with `applyUpdates`) and the next state. Both are pure and jittable.
 */
export interface GradientTransformation {
  init(params: unknown): OptState;
  update<T>(updates: T, state: OptState, params?: T): [T, OptState];
}

/**
 * Builds a transformation from untyped `init`/`update`, checking that the state looks like one of
 * this transformation's (a plain object with `keys`) before `update` runs.
 */
export function transformation(
  fn: string,
  keys: string[],
  init: (params: unknown) => Record<string, unknown>,
  update: (updates: unknown, state: Record<string, unknown>, params: unknown) => [unknown, Record<string, unknown>],
): GradientTransformation {
  return {
    init,
    update<T>(updates: T, state: OptState, params?: T): [T, OptState] {
      return update(updates, checkState(fn, state, keys), params) as [T, OptState];
    },
  };
}

function checkState(fn: string, state: unknown, keys: string[]): Record<string, unknown> {
  const isObject = typeof state === 'object' && state !== null && !globalThis.Array.isArray(state);
  if (!isObject || keys.some((k) => !(k in state))) {
    const expected = keys.length ? `{${keys.join(', ')}}` : '{}';
    throw typeError(`${fn}.update`, 'state', `the state returned by ${fn}'s init or update (an object ${expected})`, state);
  }
  return state as Record<string, unknown>;
}

/** Flattens a tree whose structure must be `def`; `arg` names it in the error. */
export function leavesLike(fn: string, arg: string, tree: unknown, def: TreeDef, defName: string): NDArray[] {
  const [leaves, d] = flatten(tree, fn, arg);
  if (!d.equals(def)) throw new Error(`${fn}: argument \`${arg}\` has the tree structure ${d}, expected ${def} (the structure of ${defName})`);
  return leaves.map((l, i) => asArray(fn, `${arg} leaf ${i}`, l));
}

/**
 * Maps `f` leaf-wise over trees with the structure of the first; `names[i]` names tree i in errors.
 * Returns a tree of that structure.
 */
export function mapTrees(fn: string, names: string[], f: (...leaves: NDArray[]) => NDArray, ...trees: unknown[]): any {
  const [first, def] = flatten(trees[0], fn, names[0]);
  const firstLeaves = first.map((l, i) => asArray(fn, `${names[0]} leaf ${i}`, l));
  const others = trees.slice(1).map((t, j) => leavesLike(fn, names[j + 1], t, def, `\`${names[0]}\``));
  return unflatten(def, firstLeaves.map((l, i) => f(l, ...others.map((o) => o[i]))));
}

/** Requires the `params` argument of `update` (for transformations that read the params). */
export function requireParams(fn: string, params: unknown, why: string): unknown {
  if (params === undefined) throw typeError(`${fn}.update`, 'params', `the current params (${why})`, params);
  return params;
}

export function checkTransformation(fn: string, arg: string, t: unknown): GradientTransformation {
  const ok = typeof t === 'object' && t !== null && typeof (t as GradientTransformation).init === 'function' && typeof (t as GradientTransformation).update === 'function';
  if (!ok) throw typeError(fn, arg, 'a gradient transformation (an object with init and update, e.g. optim.adam(...))', t);
  return t as GradientTransformation;
}

/** Applies transformations in order, each to the updates the previous one returned; the state is a JS array of their states. */
export function chain(...transforms: GradientTransformation[]): GradientTransformation {
  return namedChain('optim.chain', transforms);
}

/** `chain`, with `fn` naming it in errors (optimizers are chains). */
export function namedChain(fn: string, transforms: GradientTransformation[]): GradientTransformation {
  transforms.forEach((t, i) => checkTransformation(fn, `transforms[${i}]`, t));
  return {
    init: (params) => transforms.map((t) => t.init(params)),
    update<T>(updates: T, state: OptState, params?: T): [T, OptState] {
      if (!globalThis.Array.isArray(state) || state.length !== transforms.length) {
        throw typeError(`${fn}.update`, 'state', `the state returned by ${fn}'s init or update (a JS array of ${transforms.length} states)`, state);
      }
      const next: OptState[] = [];
      let u = updates;
      transforms.forEach((t, i) => {
        const [out, s] = t.update(u, state[i], params);
        u = out;
        next.push(s);
      });
      return [u, next];
    },
  };
}

/** Leaves the updates unchanged (optax.identity). */
export function identity(): GradientTransformation {
  return transformation('optim.identity', [], () => ({}), (updates) => [updates, {}]);
}

/** params + updates, leaf-wise, keeping each parameter's dtype. */
export function applyUpdates<T>(params: T, updates: unknown): T {
  return mapTrees('optim.applyUpdates', ['params', 'updates'], (p, u) => {
    const sum = np.add(p, u);
    return sum.dtype === p.dtype ? sum : np.astype(sum, p.dtype);
  }, params, updates);
}

/** The L2 norm of all the leaves of a tree together (optax.global_norm). */
export function globalNorm(tree: unknown): NDArray {
  const [leaves] = flatten(tree, 'optim.globalNorm', 'tree');
  const squares = leaves.map((l, i) => np.sum(np.square(asArray('optim.globalNorm', `tree leaf ${i}`, l))));
  return np.sqrt(squares.reduce((acc: NDArray, s) => np.add(acc, s), np.array(0)));
}

/** The int32 step counter carried by stateful transformations. */
export const zeroCount = (): NDArray => np.zeros([], { dtype: 'int32' });

/** count + 1, saturating at the largest int32 instead of wrapping (optax's safe increment). */
export function increment(count: unknown): NDArray {
  const c = asArray('optim', 'count', count);
  return np.where(np.less(c, 2147483647), np.add(c, 1), c);
}
