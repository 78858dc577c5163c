/** @file Public reverse-mode API: vjp, grad, valueAndGrad (JAX semantics for argnums and hasAux). */

import { fromScalar } from '../core/concrete';
import { Value } from '../core/trace';
import { flatten, TreeDef, unflatten } from '../core/tree';
import * as lax from '../lax';
import { Tangent } from '../primitives/types';
import { argnumsRoot, callFlat, checkFunction, flattenArgs, leafToValue, normalizeArgnums } from './common';
import { vjpFlat } from './linearize';

const zeroIfNull = (ct: Tangent, like: Value): Value => ct ?? lax.zerosLike(like);

/** `vjp(f, ...primals)` → `[out, vjpFn]`; `vjpFn(cotangent)` returns one cotangent per primal. */
export function vjp(f: (...args: any[]) => any, ...primals: unknown[]): [any, (ct: unknown) => any[]] {
  checkFunction('vjp', f);
  const [leaves, def] = flattenArgs('vjp', primals);
  const store: { out?: TreeDef } = {};
  const [outs, pullback] = vjpFlat((...xs) => callFlat('vjp', f, def, xs, store), leaves);
  const outDef = store.out as TreeDef;
  const vjpFn = (ct: unknown): any[] => {
    const [ctLeaves, ctDef] = flatten(ct, 'vjp', 'cotangent');
    if (!ctDef.equals(outDef)) throw new Error(`vjp: the cotangent has structure ${ctDef}, expected ${outDef} (the structure of the output)`);
    const cts = ctLeaves.map((l, i) => {
      const v = leafToValue('vjp', `cotangent leaf ${i}`, l);
      const o = outs[i];
      if (v.ndim !== o.ndim || v.aval.shape.some((d, j) => d !== o.aval.shape[j])) {
        throw new Error(`vjp: cotangent leaf ${i} has shape [${v.aval.shape.join(', ')}], expected [${o.aval.shape.join(', ')}] (the output's shape)`);
      }
      return lax.convert(v, o.dtype, o.weakType);
    });
    const inCts = pullback(cts);
    return unflatten<any[]>(def, inCts.map((c, i) => zeroIfNull(c, leaves[i])));
  };
  return [unflatten(outDef, outs), vjpFn];
}

export interface GradOptions {
  argnums?: number | number[];
  hasAux?: boolean;
}

function valueAndGradImpl(fn: string, f: (...args: any[]) => any, options: GradOptions) {
  checkFunction(fn, f);
  const hasAux = options.hasAux ?? false;
  return (...args: unknown[]): [any, any] => {
    const { list: argnums, single } = normalizeArgnums(fn, options.argnums, args.length);
    // Flatten only the differentiated arguments; the others are closed over as constants.
    const diff = argnums.map((i) => args[i]);
    const [leaves, def] = flattenArgs(fn, diff, argnumsRoot(argnums));
    leaves.forEach((l, i) => {
      if (l.dtype !== 'float32') throw new TypeError(`${fn}: differentiated argument leaf ${i} has dtype ${l.dtype}; ${fn} requires float32 inputs (use np.astype(x, 'float32'))`);
    });
    let auxDef: TreeDef | undefined;
    const flat = (...xs: Value[]): Value[] => {
      const diffArgs = unflatten<unknown[]>(def, xs);
      const full = [...args];
      argnums.forEach((a, i) => (full[a] = diffArgs[i]));
      const result = f(...full);
      let value: unknown = result;
      let aux: unknown[] = [];
      if (hasAux) {
        if (!globalThis.Array.isArray(result) || result.length !== 2) throw new TypeError(`${fn}: with hasAux the function must return [value, aux], received ${result === null ? 'null' : typeof result}`);
        value = result[0];
        const [auxLeaves, d] = flatten(result[1], fn, 'aux');
        auxDef = d;
        aux = auxLeaves;
      }
      const out = leafToValue(fn, 'output', value as never);
      if (out.ndim !== 0) throw new TypeError(`${fn}: the function must return a scalar (shape []), received an array of shape [${out.aval.shape.join(', ')}]`);
      if (out.dtype !== 'float32') throw new TypeError(`${fn}: the function must return a float32 scalar, received ${out.dtype}`);
      return [out, ...aux.map((a, i) => leafToValue(fn, `aux leaf ${i}`, a as never))];
    };
    const [outs, pullback] = vjpFlat(flat, leaves);
    const cts = pullback([fromScalar(1, outs[0].dtype, outs[0].weakType), ...outs.slice(1).map(() => null)]);
    const grads = unflatten<unknown[]>(def, cts.map((c, i) => zeroIfNull(c, leaves[i])));
    const value = hasAux ? [outs[0], unflatten(auxDef as TreeDef, outs.slice(1))] : outs[0];
    return [value, single ? grads[0] : grads];
  };
}

/** `valueAndGrad(f, {argnums, hasAux})(...args)` → `[value, grads]` (or `[[value, aux], grads]`). */
export function valueAndGrad(f: (...args: any[]) => any, options: GradOptions = {}): (...args: any[]) => [any, any] {
  return valueAndGradImpl('valueAndGrad', f, options);
}

/** `grad(f, {argnums, hasAux})(...args)` → grads (or `[grads, aux]` with hasAux). */
export function grad(f: (...args: any[]) => any, options: GradOptions = {}): (...args: any[]) => any {
  const vg = valueAndGradImpl('grad', f, options);
  return (...args: unknown[]) => {
    const [value, grads] = vg(...args);
    return options.hasAux ? [grads, value[1]] : grads;
  };
}
