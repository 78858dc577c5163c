/** @file Encodes kernels (with args already mapped to buffer indices) into the native step program (native/ABI.md). */

import { DTYPE_CODE } from '../core/dtype';
import { ElementwiseKernel, Epilogue, Kernel, SCALAR_OPS, View } from '../compiler/kernel';

const OPCODE = new Map<string, number>(SCALAR_OPS.map((n, i) => [n, i]));
const REDUCE_OP = { sum: 0, prod: 1, max: 2, min: 3 } as const;
const ARG_OP = { argmax: 0, argmin: 1 } as const;
const SCATTER_OP = { add: 0, set: 1, mul: 2, min: 3, max: 4 } as const;
const SCATTER_MODE = { clip: 0, drop: 1 } as const;

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
  /** An ELEMENTWISE payload; its consts join the program's. */
  const program = (p: number[], k: ElementwiseKernel): void => {
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
  };
  /** The optional trailing epilogue of kinds 2, 4 and 9: `src, <ELEMENTWISE payload>`. */
  const epilogue = (p: number[], e: Epilogue | undefined): void => {
    if (!e) return;
    p.push(e.src);
    program(p, e.kernel);
  };
  for (const k of kernels) {
    if (k.kind === 'alias') continue;
    const p: number[] = [];
    let kind: number;
    switch (k.kind) {
      case 'elementwise': {
        kind = k.reduce ? 9 : 1;
        program(p, k);
        if (k.reduce) {
          p.push(REDUCE_OP[k.reduce.op], k.reduce.reg, k.reduce.axes.length, ...k.reduce.axes, k.reduce.output.arg, k.reduce.output.offset);
          epilogue(p, k.reduce.epilogue);
        }
        break;
      }
      case 'reduce':
        kind = 2;
        p.push(REDUCE_OP[k.op], DTYPE_CODE[k.dtype], k.shape.length, ...k.shape);
        view(p, k.input);
        p.push(k.axes.length, ...k.axes, k.output.arg, k.output.offset);
        epilogue(p, k.epilogue);
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
        epilogue(p, k.epilogue);
        break;
      case 'gather': {
        kind = 5;
        const d = k.dims;
        p.push(DTYPE_CODE[k.dtype], d.nb, d.np, d.n, d.ns, d.nq, k.x.arg, k.x.offset, k.indices.arg, k.indices.offset, k.output.arg, k.output.offset);
        break;
      }
      case 'scatter': {
        kind = 6;
        const d = k.dims;
        p.push(SCATTER_OP[k.op], DTYPE_CODE[k.dtype], SCATTER_MODE[k.mode], d.nb, d.np, d.n, d.ns, d.nq);
        p.push(k.updates.arg, k.updates.offset, k.indices.arg, k.indices.offset, k.output.arg, k.output.offset);
        break;
      }
      case 'sort':
        kind = 7;
        p.push(DTYPE_CODE[k.dtype], k.descending ? 1 : 0, k.rows, k.n, k.input.arg, k.input.offset, k.output.arg, k.output.offset, k.indices.arg, k.indices.offset);
        break;
      case 'scan':
        kind = 8;
        p.push(REDUCE_OP[k.op], DTYPE_CODE[k.dtype], k.reverse ? 1 : 0, k.outer, k.n, k.inner, k.input.arg, k.input.offset, k.output.arg, k.output.offset);
        break;
    }
    code.push(kind, p.length, ...p);
    steps++;
  }
  code[2] = steps;
  return { code: Int32Array.from(code), consts: Float64Array.from(consts) };
}
