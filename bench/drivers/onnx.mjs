// @file A minimal ONNX protobuf writer: just enough for the elementwise chains (W1, W4) and MatMul (W2).
const utf8 = new TextEncoder();
function varint(value) {
  let n = BigInt(value);
  const out = [];
  do {
    let byte = Number(n & 0x7fn);
    n >>= 7n;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return Uint8Array.from(out);
}
function concat(...parts) {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let offset = 0;
  for (const p of parts) { out.set(p, offset); offset += p.length; }
  return out;
}
const key = (field, wireType) => varint((field << 3) | wireType);
const int = (field, v) => concat(key(field, 0), varint(v));
const bytes = (field, b) => concat(key(field, 2), varint(b.length), b);
const str = (field, s) => bytes(field, utf8.encode(s));
const FLOAT = 1;

const scalarInit = (name, value) => concat(int(2, FLOAT), str(8, name), bytes(9, new Uint8Array(new Float32Array([value]).buffer)));
function valueInfo(name, dims) { // symbolic dims
  const shape = concat(...dims.map((d) => bytes(1, str(2, d))));
  return concat(str(1, name), bytes(2, bytes(1, concat(int(1, FLOAT), bytes(2, shape)))));
}
const node = ([op, inputs, outputs], i) => concat(...inputs.map((x) => str(1, x)), ...outputs.map((x) => str(2, x)), str(3, `n${i}`), str(4, op));

function model(nodes, constants, inputs, outputs) {
  const graph = concat(...nodes.map((n, i) => bytes(1, node(n, i))), str(2, 'bench'),
    ...Object.entries(constants).map(([name, v]) => bytes(5, scalarInit(name, v))),
    ...inputs.map(([n, d]) => bytes(11, valueInfo(n, d))), ...outputs.map(([n, d]) => bytes(12, valueInfo(n, d))));
  return concat(int(1, 8), str(2, 'metalgrad-bench'), bytes(7, graph), bytes(8, concat(str(1, ''), int(2, 17))));
}

/** `((tanh(x*1.5+2)*3+0.5) max 0)*0.7-0.1`, with `+1`, `*0.5` appended when `ten` (W4). */
export function chainModel({ ten = false } = {}) {
  const c = { c15: 1.5, c2: 2, c3: 3, c05: 0.5, c0: 0, c07: 0.7, c01: 0.1, c1: 1 };
  const nodes = [['Mul', ['X', 'c15'], ['a']], ['Add', ['a', 'c2'], ['b']], ['Tanh', ['b'], ['c']], ['Mul', ['c', 'c3'], ['d']],
    ['Add', ['d', 'c05'], ['e']], ['Max', ['e', 'c0'], ['f']], ['Mul', ['f', 'c07'], ['g']], ['Sub', ['g', 'c01'], [ten ? 'h' : 'Y']]];
  if (ten) nodes.push(['Add', ['h', 'c1'], ['i']], ['Mul', ['i', 'c05'], ['Y']]);
  return model(nodes, c, [['X', ['N']]], [['Y', ['N']]]);
}

export const matmulModel = () => model([['MatMul', ['A', 'B'], ['C']]], {}, [['A', ['M', 'K']], ['B', ['K', 'N']]], [['C', ['M', 'N']]]);
