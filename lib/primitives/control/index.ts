/** @file The control-flow primitives: cond, scan, while (higher-order: their params hold jaxprs). */

import { condDef } from './cond';
import { scanDef } from './scan';
import { whileDef } from './while';

export const controlDefs = { cond: condDef, scan: scanDef, while: whileDef };
