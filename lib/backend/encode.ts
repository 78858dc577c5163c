/** @file Encodes kernels (with args already mapped to buffer indices) into the native step program (native/ABI.md). */

import { DTYPE_CODE } from '../core/dtype';
import { Kernel, SCALAR_OPS, View } from '../compiler/kernel';

const OPCODE = new Map<string, number>(SCALAR_OPS.map((n, i) => [n, i]));
const REDUCE_OP = { sum: 0, prod: 1, max: 2, min: 3 } as const;
const ARG_OP = { argmax: 0, argmin: 1 } as const;

export interface Program {
  code: Int32Array;
  consts: Float64Array;
}

export function encodeProgram(kernels: Kernel[]): Program {
  const code: number[] = [0x4d47, 1, 0];
  const consts: number[] = [];
  let steps = 0;
  const view = (out: number[], v: View): void => {
    out.push(v.arg, v.offset, ...v.strides);
  };
  for (const k of kernels) {
    if (k.kind === 'alias') continue;
    const p: number[] = [];
    let kind: number;
    switch (k.kind) {
      case 'elementwise': {
        kind = k.reduce ? 5 : 1;
        const base = consts.length;
        consts.push(...k.consts);
        p.push(k.shape.length, ...k.shape, k.inputs.length, k.outputs.length, k.nregs, k.instrs.length);
        for (const i of k.inputs) {
          p.push(DTYPE_CODE[i.dtype]);
          view(p, i.view);
        }
        for (const o of k.outputs) {
          p.push(DTYPE_CODE[o.dtype]);
          view(p, o.view);
          p.push(o.reg);
        }
        for (const ins of k.instrs) {
          p.push(OPCODE.get(ins.op) as number, DTYPE_CODE[ins.kind], ins.dst, ins.op === 'const' ? ins.a + base : ins.a, ins.b, ins.c);
        }
        if (k.reduce) p.push(REDUCE_OP[k.reduce.op], k.reduce.reg, k.reduce.axes.length, ...k.reduce.axes, k.reduce.output.arg, k.reduce.output.offset);
        break;
      }
      case 'reduce':
        kind = 2;
        p.push(REDUCE_OP[k.op], DTYPE_CODE[k.dtype], k.shape.length, ...k.shape);
        view(p, k.input);
        p.push(k.axes.length, ...k.axes, k.output.arg, k.output.offset);
        break;
      case 'argreduce':
        kind = 3;
        p.push(ARG_OP[k.op], DTYPE_CODE[k.dtype], k.shape.length, ...k.shape);
        view(p, k.input);
        p.push(k.axis, k.output.arg, k.output.offset);
        break;
      case 'matmul':
        kind = 4;
        p.push(DTYPE_CODE[k.dtype], k.batch, k.m, k.n, k.k);
        view(p, k.a);
        view(p, k.b);
        view(p, k.c);
        break;
    }
    code.push(kind, p.length, ...p);
    steps++;
  }
  code[2] = steps;
  return { code: Int32Array.from(code), consts: Float64Array.from(consts) };
}
