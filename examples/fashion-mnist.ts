/**
 * @file Classifies Fashion-MNIST (Zalando's 28×28 greyscale clothing images, 60,000 for training and
 * 10,000 for testing, ten classes) with an MLP and a small CNN (nn.conv2d, nn.maxPool), trained by
 * `jit(valueAndGrad)` and `optim.adam` on minibatches shuffled with `random.permutation`. Shows a
 * progress bar per epoch, the test accuracy after each epoch, and writes an SVG plot of the loss curves.
 *
 * Data: Debian's `dataset-fashion-mnist` package (gzipped IDX files in /usr/share/datasets/fashion-mnist),
 * or a directory given by `--data` with the same four files (gzipped or not).
 */

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { Array, jit, nn, numpy as np, optim, random, valueAndGrad } from 'metalgrad';
import { lineChartSvg, Series } from './svg-plot';

/** Where Debian's dataset-fashion-mnist package installs the IDX files. */
export const DEFAULT_DATA_DIR = '/usr/share/datasets/fashion-mnist';
const INSTALL_HINT = 'install Debian\'s package with `apt-get install dataset-fashion-mnist`, or pass --data DIR (option `data`) naming a directory with the four IDX files of the Fashion-MNIST release';
const FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
};
export const CLASS_NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const SIDE = 28;
const PIXELS = SIDE * SIDE;

export type ModelName = 'mlp' | 'cnn';

export interface FashionMnistOptions {
  /** Directory with the IDX files (default /usr/share/datasets/fashion-mnist). */
  data?: string;
  /** Which model(s) to train (default 'both'). */
  model?: ModelName | 'both';
  /** Passes over the training set (default 3). */
  epochs?: number;
  /** Examples per step (default 128); the last partial batch of an epoch is dropped. */
  batchSize?: number;
  /** Train on the first N training images (default: all for the MLP, `cnnLimit` for the CNN). */
  limit?: number;
  /** The CNN's training subset when `limit` is not given (default 10,000; the CNN is slower per example). */
  cnnLimit?: number;
  /** Test on the first N test images (default: all 10,000). */
  testLimit?: number;
  /** Adam's learning rate (default 0.001 for the MLP, 0.003 for the CNN). */
  learningRate?: number;
  /** The PRNG seed of the initial weights and the shuffles (default 0). */
  seed?: number;
  /** Where to write the SVG plot of the loss curves (default fashion-mnist-loss.svg); null for none. */
  plot?: string | null;
  log?: (line: string) => void;
  /** Where the progress bar goes (default process.stderr); redrawn in place on a TTY; null for none. */
  progress?: ProgressStream | null;
}

export interface ModelResult {
  model: ModelName;
  trainExamples: number;
  /** Mean training loss of each epoch. */
  epochLosses: number[];
  /** Test accuracy after each epoch. */
  testAccuracies: number[];
  testAccuracy: number;
  secondsPerEpoch: number;
}

export interface FashionMnistResult {
  models: ModelResult[];
  /** The SVG plot's path, when one was written. */
  plot: string | null;
  seconds: number;
}

// ---------------------------------------------------------------------------------------------
// Data: IDX files (big-endian header: two zero bytes, a type byte 0x08 = unsigned byte, the rank,
// then one uint32 per dimension; then the data, row-major).

export interface Split {
  /** Pixels scaled to [0, 1], [n, 784] row-major. */
  images: Float32Array;
  labels: Int32Array;
  count: number;
}

/** Reads an IDX file of unsigned bytes with `rank` dimensions (gunzipping it when it is gzipped). */
export function parseIdx(bytes: Uint8Array, rank: number, name: string): { dims: number[]; data: Uint8Array } {
  let raw = bytes;
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      raw = new Uint8Array(gunzipSync(bytes));
    } catch (e) {
      throw new Error(`fashion-mnist: ${name} starts like a gzip file but does not decompress: ${(e as Error).message}`);
    }
  }
  const header = 4 + 4 * rank;
  if (raw.length < header) throw new Error(`fashion-mnist: ${name} is ${raw.length} bytes, too short for an IDX header of rank ${rank} (${header} bytes)`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const magic = view.getUint32(0);
  const expected = 0x0800 + rank;
  if (magic !== expected) {
    throw new Error(`fashion-mnist: ${name} has magic number 0x${magic.toString(16).padStart(8, '0')}, expected 0x${expected.toString(16).padStart(8, '0')} (unsigned bytes, rank ${rank})`);
  }
  const dims = globalThis.Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const size = dims.reduce((a, b) => a * b, 1);
  if (raw.length !== header + size) {
    throw new Error(`fashion-mnist: ${name} has dimensions [${dims.join(', ')}] (${size} bytes of data) but holds ${raw.length - header} bytes after its header`);
  }
  return { dims, data: raw.subarray(header) };
}

function readSplit(dir: string, imagesName: string, labelsName: string, limit: number): Split {
  const read = (base: string): { bytes: Uint8Array; name: string } => {
    for (const name of [`${base}.gz`, base]) {
      const path = join(dir, name);
      if (existsSync(path)) return { bytes: readFileSync(path), name: path };
    }
    throw new Error(`fashion-mnist: no Fashion-MNIST data: ${join(dir, base)}.gz not found; ${INSTALL_HINT}`);
  };
  const imageFile = read(imagesName);
  const labelFile = read(labelsName);
  const images = parseIdx(imageFile.bytes, 3, imageFile.name);
  const labels = parseIdx(labelFile.bytes, 1, labelFile.name);
  if (images.dims[1] !== SIDE || images.dims[2] !== SIDE) {
    throw new Error(`fashion-mnist: ${imageFile.name} holds images of ${images.dims[1]}×${images.dims[2]} pixels, expected ${SIDE}×${SIDE}`);
  }
  if (images.dims[0] !== labels.dims[0]) {
    throw new Error(`fashion-mnist: ${imageFile.name} holds ${images.dims[0]} images but ${labelFile.name} holds ${labels.dims[0]} labels`);
  }
  const count = Math.min(images.dims[0], limit);
  const out: Split = { images: new Float32Array(count * PIXELS), labels: new Int32Array(count), count };
  for (let i = 0; i < count * PIXELS; i++) out.images[i] = images.data[i] / 255;
  for (let i = 0; i < count; i++) {
    const l = labels.data[i];
    if (l >= CLASS_NAMES.length) throw new Error(`fashion-mnist: ${labelFile.name} has label ${l} at index ${i}, expected 0..${CLASS_NAMES.length - 1}`);
    out.labels[i] = l;
  }
  return out;
}

/** The training and test splits, truncated to the first `trainLimit` / `testLimit` examples. */
export function loadFashionMnist(dir: string = DEFAULT_DATA_DIR, trainLimit = Infinity, testLimit = Infinity): { train: Split; test: Split } {
  if (!existsSync(dir)) throw new Error(`fashion-mnist: no Fashion-MNIST data: directory ${dir} does not exist; ${INSTALL_HINT}`);
  return {
    train: readSplit(dir, FILES.trainImages, FILES.trainLabels, trainLimit),
    test: readSplit(dir, FILES.testImages, FILES.testLabels, testLimit),
  };
}

/** The rows `order[start .. start + size)` of a split, as a batch of images [size, 784] and labels [size]. */
function gather(split: Split, order: ArrayLike<number>, start: number, size: number): { x: Array; y: Array } {
  const images = new Float32Array(size * PIXELS);
  const labels = new Int32Array(size);
  for (let i = 0; i < size; i++) {
    const row = order[start + i];
    images.set(split.images.subarray(row * PIXELS, (row + 1) * PIXELS), i * PIXELS);
    labels[i] = split.labels[row];
  }
  return { x: np.array(images, { shape: [size, PIXELS] }), y: np.array(labels) };
}

// ---------------------------------------------------------------------------------------------
// Models: parameters are plain objects of arrays (pytrees); `logits` maps a batch [n, 784] to [n, 10].

type Params = Record<string, Array>;

interface Model {
  name: ModelName;
  description: string;
  /** Adam's default learning rate. */
  learningRate: number;
  init(key: Array): Params;
  logits(p: Params, x: Array): Array;
}

const dense = (p: Params, w: string, b: string, x: Array): Array => np.add(np.matmul(x, p[w]), p[b]);

/** 784 → 256 (relu) → 10, Glorot-uniform weights and zero biases. */
const MLP: Model = {
  name: 'mlp',
  description: 'MLP 784 → 256 (relu) → 10',
  learningRate: 1e-3,
  init(key) {
    const glorot = nn.initializers.glorotUniform();
    return { w1: glorot(random.foldIn(key, 0), [PIXELS, 256]), b1: np.zeros([256]), w2: glorot(random.foldIn(key, 1), [256, 10]), b2: np.zeros([10]) };
  },
  logits: (p, x) => dense(p, 'w2', 'b2', nn.relu(dense(p, 'w1', 'b1', x))),
};

/** Two 3×3 convolutions (8 and 16 features, 'SAME', relu), each followed by 2×2 max pooling, then a dense layer: NHWC, He-normal kernels. */
const CNN: Model = {
  name: 'cnn',
  description: 'CNN conv 3×3×8 (relu) → maxPool 2×2 → conv 3×3×16 (relu) → maxPool 2×2 → dense 784 → 10',
  learningRate: 3e-3,
  init(key) {
    const he = nn.initializers.heNormal();
    const glorot = nn.initializers.glorotUniform();
    return {
      k1: he(random.foldIn(key, 0), [3, 3, 1, 8]),
      c1: np.zeros([8]),
      k2: he(random.foldIn(key, 1), [3, 3, 8, 16]),
      c2: np.zeros([16]),
      w: glorot(random.foldIn(key, 2), [7 * 7 * 16, 10]),
      b: np.zeros([10]),
    };
  },
  logits(p, x) {
    const n = x.shape[0];
    const block = (h: Array, k: string, c: string): Array => nn.maxPool(nn.relu(np.add(nn.conv2d(h, p[k], { padding: 'SAME' }), p[c])), [2, 2], { strides: [2, 2] });
    const h = block(block(np.reshape(x, [n, SIDE, SIDE, 1]), 'k1', 'c1'), 'k2', 'c2');
    return dense(p, 'w', 'b', np.reshape(h, [n, 7 * 7 * 16]));
  },
};

const MODELS: Record<ModelName, Model> = { mlp: MLP, cnn: CNN };

// ---------------------------------------------------------------------------------------------
// Progress bar: redrawn in place with \r on a TTY; on a pipe or file, a plain line every 10%.

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
}

class ProgressBar {
  private lastDraw = -Infinity;
  private lastTenth = -1;
  private readonly started = performance.now();

  constructor(
    private readonly stream: ProgressStream | null,
    private readonly title: string,
    private readonly total: number,
  ) {}

  update(done: number, detail: string): void {
    if (!this.stream) return;
    const now = performance.now();
    if (this.stream.isTTY) {
      if (now - this.lastDraw < 100 && done < this.total) return;
      this.lastDraw = now;
      const width = 30;
      const filled = Math.round((done / this.total) * width);
      this.stream.write(`\r${this.title} [${'='.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${this.total} ${this.eta(done, now)} ${detail}\x1b[K`);
    } else {
      const tenth = Math.floor((done / this.total) * 10);
      if (tenth === this.lastTenth) return;
      this.lastTenth = tenth;
      this.stream.write(`${this.title} ${String(tenth * 10).padStart(3)}% ${done}/${this.total} ${this.eta(done, now)} ${detail}\n`);
    }
  }

  finish(): void {
    if (this.stream?.isTTY) this.stream.write('\n');
  }

  private eta(done: number, now: number): string {
    const elapsed = (now - this.started) / 1000;
    if (done >= this.total) return `${elapsed.toFixed(1)} s`;
    return done === 0 ? 'eta ?' : `eta ${((elapsed / done) * (this.total - done)).toFixed(0)} s`;
  }
}

// ---------------------------------------------------------------------------------------------
// Training.

/** Mean cross-entropy of the softmax of the logits against integer labels. */
const crossEntropy = (model: Model) => (p: Params, x: Array, y: Array): Array => {
  const logProbs = nn.logSoftmax(model.logits(p, x));
  return np.negative(np.mean(np.sum(np.multiply(nn.oneHot(y, CLASS_NAMES.length), logProbs), { axis: -1 })));
};

/** The number of test images classified correctly, in batches of 1,000. */
function countCorrect(correct: (p: Params, x: Array, y: Array) => Array, params: Params, test: Split): number {
  let right = 0;
  const order = Int32Array.from({ length: test.count }, (_, i) => i);
  for (let start = 0; start < test.count; start += 1000) {
    const { x, y } = gather(test, order, start, Math.min(1000, test.count - start));
    right += correct(params, x, y).item();
  }
  return right;
}

interface TrainSettings {
  epochs: number;
  batchSize: number;
  learningRate: number | undefined;
  key: Array;
  log: (line: string) => void;
  progress: ProgressStream | null;
}

function train(model: Model, data: { train: Split; test: Split }, s: TrainSettings): { result: ModelResult; curve: [number, number][] } {
  const { train: trainSet, test } = data;
  const steps = Math.floor(trainSet.count / s.batchSize);
  if (steps === 0) throw new Error(`fashion-mnist: the training set (${trainSet.count} images) is smaller than one batch (batchSize ${s.batchSize})`);
  const learningRate = s.learningRate ?? model.learningRate;
  s.log(`${model.description}; Adam (learning rate ${learningRate}), batch ${s.batchSize}, ${steps} steps per epoch on ${trainSet.count} training images`);

  const optimizer = optim.adam({ learningRate });
  let params = model.init(random.foldIn(s.key, 0));
  let state = optimizer.init(params);
  // One jitted call per step: loss and gradients, the Adam update, and the new params.
  const step = jit((p: Params, st: unknown, x: Array, y: Array): [Params, unknown, Array] => {
    const [loss, grads] = valueAndGrad(crossEntropy(model))(p, x, y);
    const [updates, next] = optimizer.update(grads, st, p);
    return [optim.applyUpdates(p, updates), next, loss];
  });
  const correct = jit((p: Params, x: Array, y: Array): Array => np.sum(np.astype(np.equal(np.argmax(model.logits(p, x), { axis: -1 }), y), 'int32')));

  const curve: [number, number][] = [];
  const epochLosses: number[] = [];
  const testAccuracies: number[] = [];
  const started = performance.now();
  for (let epoch = 1; epoch <= s.epochs; epoch++) {
    const order = random.permutation(random.foldIn(s.key, epoch), trainSet.count).data();
    const bar = new ProgressBar(s.progress, `${model.name} epoch ${epoch}/${s.epochs}`, steps);
    let sum = 0;
    for (let i = 0; i < steps; i++) {
      const { x, y } = gather(trainSet, order, i * s.batchSize, s.batchSize);
      let loss: Array;
      [params, state, loss] = step(params, state, x, y);
      const value = loss.item();
      sum += value;
      curve.push([epoch - 1 + (i + 1) / steps, value]);
      bar.update(i + 1, `loss ${(sum / (i + 1)).toFixed(4)}`);
    }
    bar.finish();
    epochLosses.push(sum / steps);
    testAccuracies.push(countCorrect(correct, params, test) / test.count);
    s.log(`${model.name} epoch ${epoch}/${s.epochs}  loss ${epochLosses[epoch - 1].toFixed(4)}  test accuracy ${(testAccuracies[epoch - 1] * 100).toFixed(2)}%`);
  }
  const secondsPerEpoch = (performance.now() - started) / 1000 / s.epochs;
  const testAccuracy = testAccuracies[testAccuracies.length - 1];
  return { result: { model: model.name, trainExamples: trainSet.count, epochLosses, testAccuracies, testAccuracy, secondsPerEpoch }, curve };
}

/** Means over consecutive windows, so that a curve has at most about `points` points. */
function smooth(curve: [number, number][], points = 200): [number, number][] {
  const window = Math.max(1, Math.ceil(curve.length / points));
  const out: [number, number][] = [];
  for (let i = 0; i < curve.length; i += window) {
    const part = curve.slice(i, i + window);
    out.push([part[part.length - 1][0], part.reduce((a, p) => a + p[1], 0) / part.length]);
  }
  return out;
}

function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new TypeError(`fashion-mnist: option \`${name}\` should be a positive integer, received ${typeof value === 'number' ? value : JSON.stringify(value)}`);
  }
  return value;
}

export function main(options: FashionMnistOptions = {}): FashionMnistResult {
  const { data = DEFAULT_DATA_DIR, model = 'both', epochs = 3, batchSize = 128, learningRate, seed = 0, log = console.log } = options;
  const plot = options.plot === undefined ? 'fashion-mnist-loss.svg' : options.plot;
  const progress = options.progress === undefined ? process.stderr : options.progress;
  if (model !== 'mlp' && model !== 'cnn' && model !== 'both') throw new TypeError(`fashion-mnist: option \`model\` should be 'mlp', 'cnn' or 'both', received ${JSON.stringify(model)}`);
  for (const [name, value] of Object.entries({ epochs, batchSize, ...(options.limit !== undefined && { limit: options.limit }), ...(options.testLimit !== undefined && { testLimit: options.testLimit }), ...(options.cnnLimit !== undefined && { cnnLimit: options.cnnLimit }) })) {
    positiveInteger(name, value);
  }
  if (learningRate !== undefined && !(learningRate > 0)) throw new TypeError(`fashion-mnist: option \`learningRate\` should be a positive number, received ${learningRate}`);
  const started = performance.now();

  const names: ModelName[] = model === 'both' ? ['mlp', 'cnn'] : [model];
  const limits = names.map((name) => options.limit ?? (name === 'cnn' ? (options.cnnLimit ?? 10000) : Infinity));
  // Only the training images that some model uses are read.
  const all = loadFashionMnist(data, Math.max(...limits), options.testLimit);
  log(`Fashion-MNIST from ${data}: ${all.train.count} training and ${all.test.count} test images, 28×28, classes ${CLASS_NAMES.join(' / ')}`);
  const results: ModelResult[] = [];
  const series: Series[] = [];
  names.forEach((name, i) => {
    const count = Math.min(all.train.count, limits[i]);
    const trainSet: Split = { images: all.train.images.subarray(0, count * PIXELS), labels: all.train.labels.subarray(0, count), count };
    const { result, curve } = train(MODELS[name], { train: trainSet, test: all.test }, { epochs, batchSize, learningRate, key: random.foldIn(random.key(seed), i), log, progress });
    log(`${name}: test accuracy ${(result.testAccuracy * 100).toFixed(2)}% (${Math.round(result.testAccuracy * all.test.count)}/${all.test.count}), ${result.secondsPerEpoch.toFixed(1)} s per epoch`);
    results.push(result);
    series.push({ name: `${name} (${count} images)`, points: smooth(curve) });
  });
  if (plot !== null) {
    writeFileSync(plot, lineChartSvg(series, { title: 'Fashion-MNIST training loss', xLabel: 'epoch', yLabel: 'cross-entropy (mean over a window of steps)' }));
    log(`Wrote the loss curves to ${plot}`);
  }
  const seconds = (performance.now() - started) / 1000;
  log(`Done in ${seconds.toFixed(1)} s`);
  return { models: results, plot, seconds };
}

const USAGE = `Usage: npm run example:fashion-mnist -- [options]
  --data DIR         directory with the Fashion-MNIST IDX files (default ${DEFAULT_DATA_DIR})
  --model M          mlp, cnn or both (default both)
  --epochs N         passes over the training set (default 3)
  --batch-size N     examples per step (default 128)
  --limit N          train on the first N training images (default: all for the MLP, 10000 for the CNN)
  --cnn-limit N      the CNN's training subset when --limit is not given (default 10000)
  --test-limit N     test on the first N test images (default all)
  --lr X             Adam's learning rate (default 0.001 for the MLP, 0.003 for the CNN)
  --seed N           PRNG seed (default 0)
  --plot PATH        SVG plot of the loss curves (default fashion-mnist-loss.svg)`;

/** The command line's options, with numbers checked. */
export function parseCommandLine(argv: string[]): FashionMnistOptions | 'help' {
  const options = {
    data: { type: 'string' },
    model: { type: 'string' },
    epochs: { type: 'string' },
    'batch-size': { type: 'string' },
    limit: { type: 'string' },
    'test-limit': { type: 'string' },
    'cnn-limit': { type: 'string' },
    lr: { type: 'string' },
    seed: { type: 'string' },
    plot: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  } as const;
  let values: ReturnType<typeof parseArgs<{ args: string[]; options: typeof options }>>['values'];
  try {
    ({ values } = parseArgs({ args: argv, options }));
  } catch (e) {
    throw new TypeError(`fashion-mnist: ${(e as Error).message}; --help lists the options`);
  }
  if (values.help) return 'help';
  const number = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new TypeError(`fashion-mnist: --${flag} should be a number, received '${v}'`);
    return n;
  };
  return {
    data: values.data,
    model: values.model as FashionMnistOptions['model'],
    epochs: number('epochs', values.epochs),
    batchSize: number('batch-size', values['batch-size']),
    limit: number('limit', values.limit),
    testLimit: number('test-limit', values['test-limit']),
    cnnLimit: number('cnn-limit', values['cnn-limit']),
    learningRate: number('lr', values.lr),
    seed: number('seed', values.seed),
    plot: values.plot,
  };
}

if (require.main === module) {
  try {
    const options = parseCommandLine(process.argv.slice(2));
    if (options === 'help') console.log(USAGE);
    else main(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)));
  } catch (e) {
    console.error((e as Error).message);
    process.exitCode = 1;
  }
}
