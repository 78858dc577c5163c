/** @file numpy elementwise functions: promotion and broadcasting, then one lax primitive each. */

import { NDArray } from '../core/array';
import { DType } from '../core/dtype';
import { Value } from '../core/trace';
import * as lax from '../lax';
import { asArray, broadcastAll, castAll, checkDType, prepare, resultType } from './util';

type Operand = unknown;

/** Arithmetic on bools is done in int32 (numpy would give bool or int; JAX mostly int32). */
function numeric(xs: Value[]): Value[] {
  return xs[0].dtype === 'bool' ? castAll(xs, 'int32') : xs;
}

const binary = (fn: string, op: (a: Value, b: Value) => Value, float = false) => (x: Operand, y: Operand): NDArray => {
  const [a, b] = numeric(prepare(fn, [x, y], ['x', 'y'], float ? 'float' : undefined));
  return op(a, b);
};
const unaryFloat = (fn: string, op: (a: Value) => Value) => (x: Operand): NDArray => op(prepare(fn, [x], ['x'], 'float')[0]);
const unaryNumeric = (fn: string, op: (a: Value) => Value) => (x: Operand): NDArray => op(numeric(prepare(fn, [x], ['x']))[0]);
const compare = (fn: string, op: (a: Value, b: Value) => Value) => (x: Operand, y: Operand): NDArray => {
  const [a, b] = prepare(fn, [x, y], ['x', 'y']);
  return op(a, b);
};

export const add = binary('add', lax.add);
export const subtract = binary('subtract', lax.sub);
export const multiply = binary('multiply', lax.mul);
/** True division: integer operands give float32. */
export const divide = binary('divide', lax.div, true);
export const trueDivide = divide;
const generalPower = binary('power', lax.pow);

/**
 * `x ** y`. A JS integer exponent (|y| <= 64, not 0) is computed by multiplication, as JAX's
 * `integer_pow` does for `x ** 2`: exact for squares, fusable and vectorised, where the general
 * `pow` calls libm per element. Negative exponents of floats take the reciprocal.
 */
export function power(x: Operand, y: Operand): NDArray {
  if (typeof y === 'number' && Number.isInteger(y) && y !== 0 && Math.abs(y) <= 64) {
    const [a] = numeric(prepare('power', [x, y], ['x', 'y']));
    if (y > 0) return integerPow(a, y);
    if (a.dtype === 'float32') return lax.div(lax.fullLike(a, 1), integerPow(a, -y));
  }
  return generalPower(x, y);
}

/** x^n for n >= 1 by repeated squaring. */
function integerPow(x: Value, n: number): Value {
  let result: Value | undefined;
  let base = x;
  for (let k = n; k > 0; k >>= 1) {
    if (k & 1) result = result === undefined ? base : lax.mul(result, base);
    if (k > 1) base = lax.mul(base, base);
  }
  return result!;
}
export const maximum = binary('maximum', lax.max);
export const minimum = binary('minimum', lax.min);

export const negative = unaryNumeric('negative', lax.neg);
export const abs = unaryNumeric('abs', lax.abs);
export const absolute = abs;
export const sign = unaryNumeric('sign', lax.sign);
export const exp = unaryFloat('exp', lax.exp);
export const log = unaryFloat('log', lax.log);
export const log1p = unaryFloat('log1p', lax.log1p);
export const expm1 = unaryFloat('expm1', lax.expm1);
export const sin = unaryFloat('sin', lax.sin);
export const cos = unaryFloat('cos', lax.cos);
export const tanh = unaryFloat('tanh', lax.tanh);
export const sqrt = unaryFloat('sqrt', lax.sqrt);
export const floor = unaryFloat('floor', lax.floor);
export const ceil = unaryFloat('ceil', lax.ceil);
export const square = (x: Operand): NDArray => {
  const [a] = numeric(prepare('square', [x], ['x']));
  return lax.mul(a, a);
};
export const reciprocal = (x: Operand): NDArray => divide(1, x);

export const less = compare('less', lax.lt);
export const lessEqual = compare('lessEqual', lax.le);
export const greater = compare('greater', lax.gt);
export const greaterEqual = compare('greaterEqual', lax.ge);
export const equal = compare('equal', lax.eq);
export const notEqual = compare('notEqual', lax.ne);

export function logicalNot(x: Operand): NDArray {
  return lax.not(toBool('logicalNot', x));
}
export function logicalAnd(x: Operand, y: Operand): NDArray {
  return lax.and(...(prepare('logicalAnd', [toBool('logicalAnd', x), toBool('logicalAnd', y)], ['x', 'y']) as [Value, Value]));
}
export function logicalOr(x: Operand, y: Operand): NDArray {
  return lax.or(...(prepare('logicalOr', [toBool('logicalOr', x), toBool('logicalOr', y)], ['x', 'y']) as [Value, Value]));
}

// ---- Bitwise functions (integers and bools) ----

function integerOperands(fn: string, args: unknown[], names: string[], allowBool: boolean): Value[] {
  const xs = prepare(fn, args, names);
  const d = xs[0].dtype;
  if (d === 'float32' || (d === 'bool' && !allowBool)) {
    throw new TypeError(`${fn}: operands must be ${allowBool ? 'integer or bool' : 'integer'} arrays, received ${xs.map((x) => x.dtype).join(' and ')}`);
  }
  return xs;
}
const bitwise = (fn: string, op: (a: Value, b: Value) => Value) => (x: Operand, y: Operand): NDArray => {
  const [a, b] = integerOperands(fn, [x, y], ['x', 'y'], true);
  return op(a, b);
};
export const bitwiseAnd = bitwise('bitwiseAnd', lax.and);
export const bitwiseOr = bitwise('bitwiseOr', lax.or);
export const bitwiseXor = bitwise('bitwiseXor', lax.xor);
/** Bitwise not of integers; logical not of bools. */
export function invert(x: Operand): NDArray {
  return lax.not(integerOperands('invert', [x], ['x'], true)[0]);
}
export const bitwiseNot = invert;
/** `x << y`; shifting by the bit width or more gives 0. */
export function leftShift(x: Operand, y: Operand): NDArray {
  return lax.shiftLeft(...(integerOperands('leftShift', [x, y], ['x', 'y'], false) as [Value, Value]));
}
/** `x >> y`: arithmetic for int32 (sign fill), logical for uint32, as numpy. */
export function rightShift(x: Operand, y: Operand): NDArray {
  const [a, b] = integerOperands('rightShift', [x, y], ['x', 'y'], false);
  return a.dtype === 'uint32' ? lax.shiftRightLogical(a, b) : lax.shiftRightArithmetic(a, b);
}

function toBool(fn: string, x: Operand): Value {
  const a = asArray(fn, 'condition', x);
  return a.dtype === 'bool' ? a : lax.ne(a, lax.scalarLike(0, a));
}

/** `np.where(condition, x, y)`: elementwise choice; the condition is truthy where non-zero. */
export function where(condition: Operand, x: Operand, y: Operand): NDArray {
  if (arguments.length < 3) throw new TypeError(`where: expected 3 arguments (condition, x, y), received ${arguments.length}; the one-argument form (nonzero) has a data-dependent shape and is not supported`);
  const c = toBool('where', condition);
  const xs = [asArray('where', 'x', x), asArray('where', 'y', y)];
  const [p, a, b] = broadcastAll('where', [c, ...castAll(xs, resultType(xs).dtype)]);
  return lax.select(p, a, b);
}

/** `np.clip(x, min, max)`; either bound may be null. */
export function clip(x: Operand, min: Operand | null = null, max: Operand | null = null): NDArray {
  let r: NDArray = asArray('clip', 'x', x);
  if (min !== null && min !== undefined) r = maximum(r, min);
  if (max !== null && max !== undefined) r = minimum(r, max);
  return r;
}

export function astype(x: Operand, dtype: DType): NDArray {
  return lax.convert(asArray('astype', 'x', x), checkDType('astype', dtype));
}
