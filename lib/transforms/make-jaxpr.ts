/** @file makeJaxpr: the staged IR of a function for given arguments, for inspection. */

import { ClosedJaxpr } from '../ir/jaxpr';
import { traceToJaxpr } from '../ir/stage';
import { TreeDef } from '../core/tree';
import { checkFunction, flattenArgs, callFlat } from './common';

/** `makeJaxpr(f)(...args)` → the IR; `toString()` prints a jaxpr-like listing. */
export function makeJaxpr(f: (...args: any[]) => any): (...args: any[]) => ClosedJaxpr {
  checkFunction('makeJaxpr', f);
  return (...args: unknown[]) => {
    const [leaves, def] = flattenArgs('makeJaxpr', args);
    const store: { out?: TreeDef } = {};
    return traceToJaxpr((...xs) => callFlat('makeJaxpr', f, def, xs, store), leaves.map((l) => l.aval), 'makeJaxpr');
  };
}
