/** @file The IR (jaxpr-like): typed variables, literals, equations, and a readable printer. */

import { ShapedArray } from '../core/aval';
import { ConcreteArray } from '../core/concrete';
import { Value } from '../core/trace';
import { Params, Prim } from '../primitives/types';

/** A variable; identity is the object (names are given when printing). */
export class Var {
  constructor(readonly aval: ShapedArray) {}
}

/** A rank-0 constant embedded in an equation. */
export class Literal {
  constructor(readonly value: ConcreteArray) {}
  get aval(): ShapedArray {
    return this.value.aval;
  }
  /** Equal for equal constants of one type, and different for -0 and 0 (1/-0 is -inf). */
  get key(): string {
    const v = this.value.item();
    return `${this.aval}:${Object.is(v, -0) ? '-0' : v}`;
  }
}

export type Atom = Var | Literal;

export interface Eqn<P extends Prim = Prim> {
  prim: P;
  inputs: Atom[];
  params: Params[P];
  outs: Var[];
}

/** `{ lambda constvars ; inBinders . let eqns in (outs) }`; `consts` holds the constvars' values. */
export class Jaxpr {
  constructor(
    readonly constvars: Var[],
    readonly inBinders: Var[],
    readonly eqns: Eqn[],
    readonly outs: Atom[],
  ) {}

  toString(): string {
    return printJaxpr(this);
  }
}

/** A jaxpr with the values of its constvars (which may be tracers of outer transformations). */
export class ClosedJaxpr {
  constructor(
    readonly jaxpr: Jaxpr,
    readonly consts: Value[],
  ) {}
  get inAvals(): ShapedArray[] {
    return this.jaxpr.inBinders.map((v) => v.aval);
  }
  get outAvals(): ShapedArray[] {
    return this.jaxpr.outs.map((v) => v.aval);
  }
  toString(): string {
    return printJaxpr(this.jaxpr);
  }
}

function varNamer(): (v: Var) => string {
  const names = new Map<Var, string>();
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  return (v) => {
    let n = names.get(v);
    if (n === undefined) {
      let i = names.size;
      n = '';
      do {
        n = letters[i % 26] + n;
        i = Math.floor(i / 26) - 1;
      } while (i >= 0);
      names.set(v, n);
    }
    return n;
  };
}

/** The jaxprs held in a higher-order primitive's params, with the param each came from. */
export function subJaxprs(params: object): { name: string; closed: ClosedJaxpr }[] {
  const out: { name: string; closed: ClosedJaxpr }[] = [];
  for (const [k, v] of Object.entries(params)) {
    if (v instanceof ClosedJaxpr) out.push({ name: k, closed: v });
    else if (globalThis.Array.isArray(v)) v.forEach((c, i) => c instanceof ClosedJaxpr && out.push({ name: `${k}[${i}]`, closed: c }));
  }
  return out;
}

/** Params with every nested jaxpr replaced by `f(jaxpr)` (the same object when there are none). */
export function mapSubJaxprs<T extends object>(params: T, f: (c: ClosedJaxpr) => ClosedJaxpr): T {
  if (subJaxprs(params).length === 0) return params;
  const map = (v: unknown): unknown => (v instanceof ClosedJaxpr ? f(v) : globalThis.Array.isArray(v) && v.some((c) => c instanceof ClosedJaxpr) ? v.map(map) : v);
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, map(v)])) as T;
}

const constIds = new WeakMap<object, number>();
let nextConstId = 1;
/**
 * A key equal for equal params (CSE): plain data as JSON; a nested jaxpr by its printed form and the
 * identity of its constants.
 */
export function paramsKey(params: object): string {
  return JSON.stringify(params, (_k, v: unknown) => {
    if (!(v instanceof ClosedJaxpr)) return v;
    const ids = v.consts.map((c) => {
      let id = constIds.get(c);
      if (id === undefined) constIds.set(c, (id = nextConstId++));
      return id;
    });
    return `${printJaxpr(v.jaxpr)}|${ids.join(',')}`;
  });
}

function formatParams(params: object, indent: string): string {
  const entries = Object.entries(params);
  if (entries.length === 0) return '';
  const nested = (c: ClosedJaxpr): string => `\n${indent}    ${printJaxpr(c.jaxpr, `${indent}    `)}`;
  const fmt = (v: unknown): string => {
    if (v instanceof ClosedJaxpr) return nested(v);
    if (globalThis.Array.isArray(v)) return v.some((c) => c instanceof ClosedJaxpr) ? `(${v.map(fmt).join('')}\n${indent}  )` : `(${v.join(',')})`;
    return String(v);
  };
  return `[${entries.map(([k, v]) => `${k}=${fmt(v)}`).join(' ')}]`;
}

/** The jaxpr as text; nested jaxprs (control flow) are printed indented inside their equation. */
export function printJaxpr(jaxpr: Jaxpr, indent = ''): string {
  const name = varNamer();
  const binder = (v: Var): string => `${name(v)}:${v.aval.toString()}`;
  const atom = (a: Atom): string => (a instanceof Literal ? formatLiteral(a) : name(a));
  const head = `{ lambda ${jaxpr.constvars.map(binder).join(' ')}${jaxpr.constvars.length ? ' ' : ''}; ${jaxpr.inBinders.map(binder).join(' ')} . let`;
  const lines = jaxpr.eqns.map((e) => `${indent}    ${e.outs.map(binder).join(' ')} = ${e.prim}${formatParams(e.params, `${indent}    `)} ${e.inputs.map(atom).join(' ')}`);
  return [head, ...lines, `${indent}  in ( ${jaxpr.outs.map(atom).join(' ')} ) }`].join('\n');
}

function formatLiteral(l: Literal): string {
  const v = l.value.item();
  const s = l.value.dtype === 'bool' ? String(v !== 0) : l.value.dtype === 'float32' && Number.isInteger(v) ? `${Object.is(v, -0) ? '-0' : v}.0` : String(v);
  return `${s}:${l.aval.toString()}`;
}
