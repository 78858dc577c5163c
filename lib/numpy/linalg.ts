/** @file matmul and dot with numpy semantics, lowered to dot_general. */

import { NDArray } from '../core/array';
import { broadcastShapes, shapeStr } from '../core/shape';
import { Value } from '../core/trace';
import * as lax from '../lax';
import { asArray, castAll, resultType } from './util';

const range = (a: number, b: number): number[] => [...Array(Math.max(0, b - a)).keys()].map((i) => i + a);

function operands(fn: string, a: unknown, b: unknown): [Value, Value] {
  const xs = [asArray(fn, 'a', a), asArray(fn, 'b', b)];
  let { dtype } = resultType(xs);
  if (dtype === 'bool' || dtype === 'uint32') dtype = 'int32';
  return castAll(xs, dtype) as [Value, Value];
}

function contractError(fn: string, x: Value, y: Value, xa: number, ya: number): Error {
  return new Error(`${fn}: shapes ${shapeStr(x.aval.shape)} and ${shapeStr(y.aval.shape)} are not aligned: dimension ${xa} of a (${x.aval.shape[xa]}) != dimension ${ya} of b (${y.aval.shape[ya]})`);
}

/** `np.matmul(a, b)`: 1-D operands are promoted to matrices; leading (batch) dimensions broadcast. */
export function matmul(a: unknown, b: unknown): NDArray {
  let [x, y] = operands('matmul', a, b);
  if (x.ndim === 0 || y.ndim === 0) throw new Error('matmul: operands must be at least 1-D (use multiply for scalars)');
  const xVec = x.ndim === 1;
  const yVec = y.ndim === 1;
  if (xVec) x = lax.reshape(x, [1, x.aval.shape[0]]);
  if (yVec) y = lax.reshape(y, [y.aval.shape[0], 1]);
  const xk = x.ndim - 1;
  const yk = y.ndim - 2;
  if (x.aval.shape[xk] !== y.aval.shape[yk]) throw contractError('matmul', x, y, xk, yk);
  let out: Value;
  if (y.ndim === 2) {
    // [..., m, k] @ [k, n]: no batch dimensions needed.
    out = lax.dotGeneral(x, y, { lhsContract: [xk], rhsContract: [0], lhsBatch: [], rhsBatch: [] });
  } else {
    const batch = broadcastShapes('matmul', x.aval.shape.slice(0, -2), y.aval.shape.slice(0, -2));
    const nb = batch.length;
    const bx = lax.broadcastInDim(x, [...batch, ...x.aval.shape.slice(-2)], range(nb - (x.ndim - 2), nb + 2));
    const by = lax.broadcastInDim(y, [...batch, ...y.aval.shape.slice(-2)], range(nb - (y.ndim - 2), nb + 2));
    out = lax.dotGeneral(bx, by, { lhsContract: [nb + 1], rhsContract: [nb], lhsBatch: range(0, nb), rhsBatch: range(0, nb) });
  }
  const shape = [...out.aval.shape];
  if (yVec) shape.splice(shape.length - 1, 1);
  if (xVec) shape.splice(shape.length - (yVec ? 1 : 2), 1);
  return lax.reshape(out, shape);
}

/** `np.dot(a, b)`: scalars multiply; otherwise contracts a's last axis with b's second-to-last (or only) axis. */
export function dot(a: unknown, b: unknown): NDArray {
  const [x, y] = operands('dot', a, b);
  if (x.ndim === 0 || y.ndim === 0) return lax.mul(...(castAll([x, y], x.dtype) as [Value, Value]));
  const xk = x.ndim - 1;
  const yk = y.ndim === 1 ? 0 : y.ndim - 2;
  if (x.aval.shape[xk] !== y.aval.shape[yk]) throw contractError('dot', x, y, xk, yk);
  return lax.dotGeneral(x, y, { lhsContract: [xk], rhsContract: [yk], lhsBatch: [], rhsBatch: [] });
}

/** `np.inner(a, b)`: contracts the last axes of both operands. */
export function inner(a: unknown, b: unknown): NDArray {
  const [x, y] = operands('inner', a, b);
  if (x.ndim === 0 || y.ndim === 0) return lax.mul(x, y);
  if (x.aval.shape[x.ndim - 1] !== y.aval.shape[y.ndim - 1]) throw contractError('inner', x, y, x.ndim - 1, y.ndim - 1);
  return lax.dotGeneral(x, y, { lhsContract: [x.ndim - 1], rhsContract: [y.ndim - 1], lhsBatch: [], rhsBatch: [] });
}
