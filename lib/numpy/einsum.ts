/**
 * @file `einsum(subscripts, ...operands)`: parses the subscripts (explicit `->` or implicit output),
 * takes diagonals of letters repeated within an operand, sums letters used by one operand only,
 * then contracts operands left to right with dot_general (shared letters still needed later are
 * batch axes) and transposes to the output order. '...' stands for broadcast leading dimensions.
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

const ELLIPSIS = '...';

/** Splits one term into labels, keeping '...' as one token. */
function splitTerm(fn: string, term: string, subscripts: string): string[] {
  const parts = term.split(ELLIPSIS);
  if (parts.length > 2) throw new Error(`${fn}: subscripts ${JSON.stringify(subscripts)} use '...' more than once in one term`);
  const out: string[] = [];
  parts.forEach((part, k) => {
    if (k > 0) out.push(ELLIPSIS);
    for (const c of part) {
      if (!/[a-zA-Z]/.test(c)) throw new Error(`${fn}: subscripts ${JSON.stringify(subscripts)} contain ${JSON.stringify(c)}; only letters and '...' are allowed`);
      out.push(c);
    }
  });
  return out;
}

/**
 * Labels of each operand and of the output, with '...' expanded into labels `#k` for the broadcast
 * dimensions (right-aligned across operands, as numpy).
 */
function parse(subscripts: string, xs: Value[]): { inputs: string[][]; output: string[] } {
  const s = subscripts.replace(/\s+/g, '');
  const [lhs, rhs, extra] = s.split('->');
  if (extra !== undefined) throw new Error(`einsum: subscripts ${JSON.stringify(subscripts)} have more than one '->'`);
  const raw = lhs.split(',').map((t) => splitTerm('einsum', t, subscripts));
  if (raw.length !== xs.length) throw new Error(`einsum: subscripts ${JSON.stringify(subscripts)} name ${raw.length} operand(s) but ${xs.length} were given`);
  const counts = raw.map((t, i) => {
    const explicit = t.filter((c) => c !== ELLIPSIS).length;
    if (!t.includes(ELLIPSIS)) return 0;
    if (xs[i].ndim < explicit) throw new Error(`einsum: operand ${i} has shape ${shapeStr(xs[i].aval.shape)} but its subscripts name ${explicit} axes besides '...'`);
    return xs[i].ndim - explicit;
  });
  const e = Math.max(0, ...counts);
  const dots = Array.from({ length: e }, (_, k) => `#${k}`);
  const inputs = raw.map((t, i) => t.flatMap((c) => (c === ELLIPSIS ? dots.slice(e - counts[i]) : [c])));
  let output: string[];
  if (rhs === undefined) {
    const count = new Map<string, number>();
    for (const t of raw) for (const c of t) if (c !== ELLIPSIS) count.set(c, (count.get(c) ?? 0) + 1);
    output = [...dots, ...[...count.keys()].filter((c) => count.get(c) === 1).sort()];
  } else {
    const out = splitTerm('einsum', rhs, subscripts);
    output = out.flatMap((c) => (c === ELLIPSIS ? dots : [c]));
    const letters = out.filter((c) => c !== ELLIPSIS);
    if (new Set(letters).size !== letters.length) throw new Error(`einsum: output subscripts ${JSON.stringify(rhs)} repeat a letter`);
    const seen = new Set(inputs.flat());
    for (const c of letters) if (!seen.has(c)) throw new Error(`einsum: output subscript ${JSON.stringify(c)} does not appear in any input`);
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
  let xs = operands.map((o, i) => asArray('einsum', `operands[${i}]`, o));
  let { dtype } = resultType(xs);
  if (dtype === 'bool' || dtype === 'uint32') dtype = 'int32';
  xs = castAll(xs, dtype);
  const { inputs, output } = parse(subscripts, xs);
  const sizes = new Map<string, number>();
  xs.forEach((x, i) => {
    const labels = inputs[i];
    if (labels.length !== x.ndim) throw new Error(`einsum: operand ${i} has shape ${shapeStr(x.aval.shape)} but its subscripts ${JSON.stringify(labels.join(''))} name ${labels.length} axes`);
    labels.forEach((c, k) => {
      const d = x.aval.shape[k];
      const prev = sizes.get(c);
      // Broadcast dimensions ('...') may be 1 where another operand has more.
      const broadcast = c.startsWith('#') && (prev === 1 || d === 1);
      if (prev !== undefined && prev !== d && !broadcast) throw new Error(`einsum: subscript ${JSON.stringify(c)} has size ${prev} in one place and ${d} in another (operand ${i})`);
      sizes.set(c, prev === undefined || prev === 1 ? d : prev);
    });
  });
  let terms: Term[] = xs.map((x0, i) => {
    const labels = inputs[i];
    const full = labels.map((c) => sizes.get(c) as number);
    const x = lax.broadcastInDim(x0, full, labels.map((_, k) => k));
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
