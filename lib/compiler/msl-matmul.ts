/**
 * @file MSL generation of matmul: an entry point into the hand-written tiled GEMM of
 * shaders/matmul.metal, which accumulates each element of C in a register and hands it to a store
 * hook. The generated hook (a function object, since MSL has no lambdas) writes the element at C's
 * strides and runs the kernel's epilogue on it.
 */

import { MatmulKernel } from './kernel';
import { bufferParams, indexExpr, REG_TYPE, signature } from './msl-emit';
import { resultStore } from './msl-epilogue';
import { GROUP_SIZE, MATMUL_TILE, matmulTiles } from './msl-launch';

export function matmul(k: MatmulKernel, name: string): string {
  if (k.dtype !== 'float32' && k.dtype !== 'int32') throw new Error(`generateMsl: matmul is defined on float32 and int32, received ${k.dtype}`);
  const t = REG_TYPE[k.dtype];
  const comment = `// ${name}: matmul [${k.batch}] x [${k.m}, ${k.k}] @ [${k.k}, ${k.n}] by the hand-written tiled shader shaders/matmul.metal (${MATMUL_TILE}x${MATMUL_TILE} tiles of C, ${GROUP_SIZE} threads each)`;
  const head = signature(name, k, [`threadgroup ${t}* a_tile [[threadgroup(0)]]`, `threadgroup ${t}* b_tile [[threadgroup(1)]]`, 'uint group [[threadgroup_position_in_grid]]', 'uint tid [[thread_position_in_threadgroup]]']);
  if (matmulTiles(k) === 0) return [comment, head, '  // nothing to compute', '}', ''].join('\n');
  // The hook holds every buffer after A and B: C, and the epilogue's inputs and outputs.
  const held = bufferParams(k).slice(2);
  const hook = `${name}_store`;
  const flat = k.epilogue ? [`    const uint flat = uint((p * ${k.m} + i) * ${k.n} + j);`] : [];
  const store = `out0[${indexExpr(k.c.offset, k.c.strides, ['p', 'i', 'j'])}] = acc;`;
  const shape = [k.batch, k.m, k.n, k.k, k.a.offset, ...k.a.strides, k.b.offset, ...k.b.strides];
  return [
    comment,
    `// The store hook: element C[p, i, j] is acc${k.epilogue ? ', which the epilogue then runs on' : ''}.`,
    `struct ${hook} {`,
    ...held.map((p) => `  ${p.decl};`),
    `  void operator()(int p, int i, int j, ${t} acc) const {`,
    ...flat,
    ...resultStore(k, 'acc', 'flat', store, '    '),
    '  }',
    '};',
    head,
    `  const MgMatmul shape = {${shape.join(', ')}};`,
    `  mg_matmul(in0, in1, shape, a_tile, b_tile, group, tid, ${hook}{${held.map((p) => p.id).join(', ')}});`,
    '}',
    '',
  ].join('\n');
}
