/**
 * @file `einsum(subscripts, ...operands)`: parses the subscripts (explicit `->` or implicit output),
 * takes diagonals of letters repeated within an operand, sums letters used by one operand only,
 * then contracts operands left to right with dot_general (shared letters still needed later are
 * batch axes) and transposes to the output order. Ellipsis broadcasting is not supported.
 */

import { NDArray } from '../core/array';
import { fromBuffer } from '../core/concrete';
import { typeError } from '../core/errors';
import { shapeStr } from '../core/shape';
import { Value } from '../core/trace';
import * as lax from '../lax';
import { asArray, castAll, resultType } from './util';

interface Term {
  x: Value;
  labels: string[];
}

function parse(subscripts: string, n: number): { inputs: string[][]; output: string[] } {
  const s = subscripts.replace(/\s+/g, '');
  if (s.includes('.')) throw new Error('einsum: ellipsis (...) in subscripts is not supported');
  const [lhs, rhs, extra] = s.split('->');
  if (extra !== undefined) throw new Error(`einsum: subscripts ${JSON.stringify(subscripts)} have more than one '->'`);
  const inputs = lhs.split(',').map((t) => [...t]);
  if (inputs.length !== n) throw new Error(`einsum: subscripts ${JSON.stringify(subscripts)} name ${inputs.length} operand(s) but ${n} were given`);
  for (const t of [...inputs, ...(rhs === undefined ? [] : [[...rhs]])]) {
    for (const c of t) if (!/[a-zA-Z]/.test(c)) throw new Error(`einsum: subscripts ${JSON.stringify(subscripts)} contain ${JSON.stringify(c)}; only letters are allowed`);
  }
  let output: string[];
  if (rhs === undefined) {
    const count = new Map<string, number>();
    for (const t of inputs) for (const c of t) count.set(c, (count.get(c) ?? 0) + 1);
    output = [...count.keys()].filter((c) => count.get(c) === 1).sort();
  } else {
    output = [...rhs];
    if (new Set(output).size !== output.length) throw new Error(`einsum: output subscripts ${JSON.stringify(rhs)} repeat a letter`);
    const seen = new Set(inputs.flat());
    for (const c of output) if (!seen.has(c)) throw new Error(`einsum: output subscript ${JSON.stringify(c)} does not appear in any input`);
  }
  return { inputs, output };
}

/** Takes the diagonal of two axes with the same label (the later one is removed). */
function diagonal(t: Term, i: number, j: number): Term {
  const n = t.x.aval.shape[i];
  const rest = t.labels.map((_, k) => k).filter((k) => k !== i && k !== j);
  const moved = lax.transpose(t.x, [...rest, i, j]);
  const flat = lax.reshape(moved, [...rest.map((k) => t.x.aval.shape[k]), n * n]);
  const idx = fromBuffer([n], 'int32', Int32Array.from({ length: n }, (_, k) => k * (n + 1)));
  return { x: lax.gather(flat, idx, rest.length), labels: [...rest.map((k) => t.labels[k]), t.labels[i]] };
}

/** Sums the axes whose labels are not in `keep`. */
function sumOut(t: Term, keep: Set<string>): Term {
  const axes = t.labels.flatMap((c, k) => (keep.has(c) ? [] : [k]));
  return { x: lax.reduceSum(t.x, axes), labels: t.labels.filter((c) => keep.has(c)) };
}

export function einsum(subscripts: string, ...operands: unknown[]): NDArray {
  if (typeof subscripts !== 'string') throw typeError('einsum', 'subscripts', "a string such as 'ij,jk->ik'", subscripts);
  const { inputs, output } = parse(subscripts, operands.length);
  let xs = operands.map((o, i) => asArray('einsum', `operands[${i}]`, o));
  let { dtype } = resultType(xs);
  if (dtype === 'bool' || dtype === 'uint32') dtype = 'int32';
  xs = castAll(xs, dtype);
  const sizes = new Map<string, number>();
  let terms: Term[] = xs.map((x, i) => {
    const labels = inputs[i];
    if (labels.length !== x.ndim) throw new Error(`einsum: operand ${i} has shape ${shapeStr(x.aval.shape)} but its subscripts ${JSON.stringify(labels.join(''))} name ${labels.length} axes`);
    labels.forEach((c, k) => {
      const d = x.aval.shape[k];
      const prev = sizes.get(c);
      if (prev !== undefined && prev !== d) throw new Error(`einsum: subscript ${JSON.stringify(c)} has size ${prev} in one place and ${d} in another (operand ${i})`);
      sizes.set(c, d);
    });
    let t: Term = { x, labels: [...labels] };
    for (let k = 0; k < t.labels.length; k++) {
      const j = t.labels.indexOf(t.labels[k], k + 1);
      if (j >= 0) {
        t = diagonal(t, k, j);
        k = -1;
      }
    }
    return t;
  });
  const needed = (from: number): Set<string> => new Set([...output, ...terms.slice(from).flatMap((t) => t.labels)]);
  // Letters only one operand uses (and the output does not) are summed right away.
  terms = terms.map((t, i) => sumOut(t, new Set([...output, ...terms.filter((_, j) => j !== i).flatMap((u) => u.labels)])));
  let acc = terms[0];
  for (let i = 1; i < terms.length; i++) {
    const t = terms[i];
    const later = needed(i + 1);
    const shared = acc.labels.filter((c) => t.labels.includes(c));
    const batch = shared.filter((c) => later.has(c));
    const contract = shared.filter((c) => !later.has(c));
    const x = lax.dotGeneral(acc.x, t.x, {
      lhsContract: contract.map((c) => acc.labels.indexOf(c)),
      rhsContract: contract.map((c) => t.labels.indexOf(c)),
      lhsBatch: batch.map((c) => acc.labels.indexOf(c)),
      rhsBatch: batch.map((c) => t.labels.indexOf(c)),
    });
    const free = (ls: string[]): string[] => ls.filter((c) => !shared.includes(c));
    acc = sumOut({ x, labels: [...batch, ...free(acc.labels), ...free(t.labels)] }, later);
  }
  acc = sumOut(acc, new Set(output));
  return lax.transpose(acc.x, output.map((c) => acc.labels.indexOf(c)));
}
