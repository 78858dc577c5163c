/**
 * @file Epilogues in generated MSL: elementwise work on the result of a reduction or matmul (kernel
 * IR `Epilogue`), run inside that kernel by the thread that stores each result element, on the
 * value it holds in a register. Its `src` input is that value; its other inputs and its outputs are
 * bound after the kernel's own buffers (`mslBindings`).
 */

import { sizeOf } from '../core/shape';
import { Epilogue, epilogueOf, Kernel } from './kernel';
import { emitProgram, load, ownBindings, programIndex } from './msl-emit';
import { resultCount } from './msl-launch';

/**
 * The statements that store one element of a reduction's or matmul's result and run the kernel's
 * epilogue on it: `store` (the generator's own store statement of `value`), unless an epilogue
 * output overwrites that element anyway, then the epilogue at flat result index `flat` (an unsigned
 * expression). Generators call this once per result element, in place of their store, from the
 * thread holding the element's final value; every statement is indented by `pad`.
 */
export function resultStore(kernel: Kernel, value: string, flat: string, store: string, pad = '  '): string[] {
  const e = epilogueOf(kernel);
  if (!e) return [`${pad}${store}`];
  checkEpilogue(kernel, e);
  const src = e.kernel.inputs[e.src].view;
  const overwritten = e.kernel.outputs.some((o) => o.view.arg === src.arg && o.view.offset === src.offset && o.view.strides.every((st, d) => st === src.strides[d]));
  return [...(overwritten ? [] : [`${pad}${store}`]), ...epilogueLines(kernel, e, value, flat, pad)];
}

/** An epilogue must read the kernel's result (one element per result element) as its input `src`. */
function checkEpilogue(kernel: Kernel, e: Epilogue): void {
  const k = e.kernel;
  const n = k.inputs.length;
  if (!(Number.isInteger(e.src) && e.src >= 0 && e.src < n)) throw new Error(`generateMsl: the epilogue's src must be one of its ${n} inputs, received ${e.src}`);
  if (k.reduce) throw new Error('generateMsl: an epilogue cannot have a reduction of its own');
  const count = resultCount(kernel);
  if (sizeOf(k.shape) !== count) throw new Error(`generateMsl: the epilogue runs over ${sizeOf(k.shape)} elements but the result has ${count}`);
  const dtype = kernel.kind === 'elementwise' ? kernel.reduce?.dtype : kernel.kind === 'reduce' || kernel.kind === 'matmul' ? kernel.dtype : undefined;
  if (k.inputs[e.src].dtype !== dtype) throw new Error(`generateMsl: the epilogue's src input is ${k.inputs[e.src].dtype} but the result is ${dtype}`);
}

function epilogueLines(kernel: Kernel, e: Epilogue, value: string, flat: string, pad: string): string[] {
  const own = ownBindings(kernel);
  const firstIn = own.filter((b) => !b.writes).length;
  const firstOut = own.length - firstIn;
  const k = e.kernel;
  const at = programIndex(k, flat, 'ei', pad);
  const lines = [`${pad}// epilogue: ${k.instrs.length} instruction${k.instrs.length === 1 ? '' : 's'} on the result`, ...at.lines];
  // Inputs other than src are bound after the kernel's own reads, in order.
  const program = emitProgram(k, lines, at.index, pad, {
    prefix: 'e',
    input: (i) => (i === e.src ? value : load(`in${firstIn + (i < e.src ? i : i - 1)}`, at.index(i), k.inputs[i].dtype)),
    output: (o) => `out${firstOut + o}`,
  });
  k.outputs.forEach((_, o) => program.store(o));
  return lines;
}
