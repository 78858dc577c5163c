/**
 * @file Pytrees: nested JS arrays and plain objects whose leaves are arrays or numbers. Object keys
 * are visited in sorted order (as JAX does for dicts); `null`/`undefined` are empty nodes.
 */

import { NDArray } from './array';
import { describe } from './errors';

export type Leaf = NDArray | number | boolean;

type NodeKind = 'leaf' | 'array' | 'object' | 'null' | 'undefined';

export class TreeDef {
  constructor(
    readonly kind: NodeKind,
    readonly children: TreeDef[] = [],
    readonly keys: string[] = [],
  ) {}

  get numLeaves(): number {
    return this.kind === 'leaf' ? 1 : this.children.reduce((n, c) => n + c.numLeaves, 0);
  }

  equals(o: TreeDef): boolean {
    return this.toString() === o.toString();
  }

  /** A structural description, e.g. `{a: *, b: [*, *]}`; also used as a cache key (computed once). */
  toString(): string {
    return (this.text ??= this.describe());
  }
  private text: string | undefined;

  private describe(): string {
    switch (this.kind) {
      case 'leaf':
        return '*';
      case 'null':
        return 'null';
      case 'undefined':
        return 'undefined';
      case 'array':
        return `[${this.children.map(String).join(', ')}]`;
      case 'object':
        return `{${this.keys.map((k, i) => `${k}: ${this.children[i]}`).join(', ')}}`;
    }
  }
}

export const LEAF = new TreeDef('leaf');

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** `path` names the node in errors, e.g. `args[0].w`. */
function flattenInto(tree: unknown, leaves: unknown[], fn: string, path: string): TreeDef {
  if (tree === null) return new TreeDef('null');
  if (tree === undefined) return new TreeDef('undefined');
  if (globalThis.Array.isArray(tree)) return new TreeDef('array', tree.map((c, i) => flattenInto(c, leaves, fn, `${path}[${i}]`)));
  if (isPlainObject(tree)) {
    const keys = Object.keys(tree).sort();
    return new TreeDef('object', keys.map((k) => flattenInto(tree[k], leaves, fn, `${path}.${k}`)), keys);
  }
  if (tree instanceof NDArray || typeof tree === 'number' || typeof tree === 'boolean') {
    leaves.push(tree);
    return LEAF;
  }
  throw new TypeError(`${fn}: argument \`${path}\` must be an array or a number (pytree leaves must be arrays or numbers, inside nested arrays and plain objects), received ${describe(tree)}`);
}

/** `root` names the whole tree in errors (`args`, `output`, ...). */
export function flatten(tree: unknown, fn = 'tree.flatten', root = 'tree'): [Leaf[], TreeDef] {
  const leaves: Leaf[] = [];
  const def = flattenInto(tree, leaves, fn, root);
  return [leaves, def];
}

export function unflatten<T = unknown>(def: TreeDef, leaves: readonly unknown[]): T {
  if (leaves.length !== def.numLeaves) {
    throw new Error(`tree.unflatten: the tree structure ${def} has ${def.numLeaves} leaves, received ${leaves.length}`);
  }
  let i = 0;
  const build = (d: TreeDef): unknown => {
    switch (d.kind) {
      case 'leaf':
        return leaves[i++];
      case 'null':
        return null;
      case 'undefined':
        return undefined;
      case 'array':
        return d.children.map(build);
      case 'object':
        return Object.fromEntries(d.keys.map((k, j) => [k, build(d.children[j])]));
    }
  };
  return build(def) as T;
}

export function leaves(tree: unknown): Leaf[] {
  return flatten(tree, 'tree.leaves')[0];
}

/** Applies `f` leaf-wise; extra trees must have the same structure as the first. */
export function map(f: (...xs: any[]) => unknown, tree: unknown, ...rest: unknown[]): any {
  const [ls, def] = flatten(tree, 'tree.map');
  const others = rest.map((r, j) => {
    const [rl, rd] = flatten(r, 'tree.map');
    if (!rd.equals(def)) throw new Error(`tree.map: tree ${j + 1} has structure ${rd}, expected ${def} (the structure of the first tree)`);
    return rl;
  });
  return unflatten(def, ls.map((l, i) => f(l, ...others.map((o) => o[i]))));
}
