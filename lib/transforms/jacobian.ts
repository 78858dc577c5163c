/** @file jacfwd (vmap of jvp over a basis), jacrev (vmap of vjp over a basis), hessian = jacfwd(jacrev). */

import { Value } from '../core/trace';
import { flatten, TreeDef, unflatten } from '../core/tree';
import * as lax from '../lax';
import { eye } from '../numpy/creation';
import { argnumsRoot, checkFunction, flattenArgs, leafToValue, normalizeArgnums } from './common';
import { instantiate, jvpFlat } from './jvp';
import { vjpFlat } from './linearize';
import { vmapFlat } from './vmap';

export interface JacobianOptions {
  argnums?: number | number[];
}

/** An identity basis for a value: [n, ...shape] with one unit tangent per element. */
const basis = (x: Value): Value => lax.reshape(eye(x.size, null, { dtype: x.dtype }), [x.size, ...x.aval.shape]);

/** Splits the call into the differentiated leaves and a flat function of them. */
function setup(fn: string, f: (...args: any[]) => any, options: JacobianOptions, args: unknown[]) {
  const { list: argnums, single } = normalizeArgnums(fn, options.argnums, args.length);
  const [leaves, def] = flattenArgs(fn, argnums.map((i) => args[i]), argnumsRoot(argnums));
  leaves.forEach((l, i) => {
    if (l.dtype !== 'float32') throw new TypeError(`${fn}: differentiated argument leaf ${i} has dtype ${l.dtype}; ${fn} requires float32 inputs`);
  });
  const flat = (...xs: Value[]): Value[] => {
    const diff = unflatten<unknown[]>(def, xs);
    const full = [...args];
    argnums.forEach((a, i) => (full[a] = diff[i]));
    const [outLeaves, outDef] = flatten(f(...full), fn, 'output');
    if (outDef.kind !== 'leaf') throw new TypeError(`${fn}: the function must return a single array, received a tree ${outDef}`);
    return outLeaves.map((o) => leafToValue(fn, 'output', o));
  };
  const finish = (perLeaf: Value[]) => {
    const tree = unflatten<unknown[]>(def, perLeaf);
    return single ? tree[0] : tree;
  };
  return { leaves, flat, finish, def: def as TreeDef };
}

/** Forward-mode Jacobian: shape [...out, ...in] per differentiated leaf. */
export function jacfwd(f: (...args: any[]) => any, options: JacobianOptions = {}): (...args: any[]) => any {
  checkFunction('jacfwd', f);
  return (...args: unknown[]) => {
    const { leaves, flat, finish } = setup('jacfwd', f, options, args);
    const jacs = leaves.map((leaf, j) => {
      const push = (t: Value): Value[] => {
        const [outs, touts] = jvpFlat(flat, leaves, leaves.map((l, i) => (i === j ? t : null)));
        return [instantiate(touts[0], outs[0])];
      };
      // The mapped axis goes last: [...out, n], then n unfolds into the leaf's shape.
      const [stacked] = vmapFlat(push, leaf.size, [basis(leaf)], [0], () => [-1]);
      return lax.reshape(stacked, [...stacked.aval.shape.slice(0, -1), ...leaf.aval.shape]);
    });
    return finish(jacs);
  };
}

/** Reverse-mode Jacobian: shape [...out, ...in] per differentiated leaf. */
export function jacrev(f: (...args: any[]) => any, options: JacobianOptions = {}): (...args: any[]) => any {
  checkFunction('jacrev', f);
  return (...args: unknown[]) => {
    const { leaves, flat, finish } = setup('jacrev', f, options, args);
    const [outs, pullback] = vjpFlat(flat, leaves);
    const out = outs[0];
    const pull = (ct: Value): Value[] => pullback([ct]).map((c, i) => c ?? lax.zerosLike(leaves[i]));
    const rows = vmapFlat(pull, out.size, [basis(out)], [0], () => leaves.map(() => 0));
    return finish(rows.map((r, i) => lax.reshape(r, [...out.aval.shape, ...leaves[i].aval.shape])));
  };
}

/** Hessian: jacfwd of jacrev. */
export function hessian(f: (...args: any[]) => any, options: JacobianOptions = {}): (...args: any[]) => any {
  return jacfwd(jacrev(f, options), options);
}
