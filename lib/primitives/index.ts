/** @file The primitive table: exhaustive over `Prim`, so a primitive missing a rule fails to compile. */

import { controlDefs } from './control';
import { dotGeneral } from './dot';
import { elementwiseDefs } from './elementwise';
import { reduceDefs } from './reduce';
import { gatherDefs } from './gather';
import { shapeDefs } from './shape';
import { sortDefs } from './sort';
import { Prim, PrimitiveDef, PrimitiveTable } from './types';

export const PRIMITIVES: PrimitiveTable = {
  ...elementwiseDefs,
  ...reduceDefs,
  ...shapeDefs,
  dot_general: dotGeneral,
  ...gatherDefs,
  ...sortDefs,
  ...controlDefs,
};

export function primitiveDef<P extends Prim>(p: P): PrimitiveDef<P> {
  return PRIMITIVES[p] as PrimitiveDef<P>;
}
