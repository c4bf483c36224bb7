/**
 * The mathematics of the three models, written for reading: forward pass, cross-entropy and its
 * gradient, one example at a time, plain loops. The kernel (index.ts) runs these on Float32Arrays;
 * the gradient tests run the very same code on Float64Arrays against finite differences.
 *
 * Parameter layout (types.ts): linear W [inputs × classes] row-major then b [classes];
 * mlp W1 [inputs × hidden], b1 [hidden], W2 [hidden × classes], b2 [classes]. One row per input, so
 * the rows of zero inputs (most MNIST pixels) are skipped in the forward pass and in the gradient.
 *
 * classes = 1: a single logit z, p(y=1) = sigmoid(z), binary cross-entropy; otherwise softmax CE.
 */
import type { Dataset, ModelShape } from '../types.js';

/** Float32Array in the kernel, Float64Array in the gradient check. */
export type Floats = Float32Array | Float64Array;
export type FloatsConstructor = Float32ArrayConstructor | Float64ArrayConstructor;

/** Scratch buffers for one example, allocated once per kernel. */
export interface Workspace {
  /** Hidden activations after ReLU (mlp). */
  hidden: Floats;
  /** Gradient with respect to the hidden pre-activations (mlp). */
  dHidden: Floats;
  logits: Floats;
  dLogits: Floats;
  /** Indices of the non-zero inputs of the current example. */
  nonZero: Int32Array;
}

export function createWorkspace(shape: ModelShape, ctor: FloatsConstructor): Workspace {
  return {
    hidden: new ctor(Math.max(shape.hidden, 1)),
    dHidden: new ctor(Math.max(shape.hidden, 1)),
    logits: new ctor(shape.classes),
    dLogits: new ctor(shape.classes),
    nonZero: new Int32Array(shape.inputs),
  };
}

/** Offsets of the blocks of the flat parameter vector. */
export interface Layout {
  w1: number;
  b1: number;
  w2: number;
  b2: number;
}

export function layoutOf(s: ModelShape): Layout {
  if (s.model === 'mlp') {
    const b1 = s.inputs * s.hidden;
    const w2 = b1 + s.hidden;
    const b2 = w2 + s.hidden * s.classes;
    return { w1: 0, b1, w2, b2 };
  }
  // Linear models: W and b play the role of the output layer (w2, b2).
  return { w1: 0, b1: 0, w2: 0, b2: s.inputs * s.classes };
}

/**
 * Cross-entropy of one example from its logits, natural log, computed stably:
 *  - classes = 1: softplus(z) − y·z = max(z, 0) − y·z + log1p(exp(−|z|))
 *  - classes > 1: logsumexp(z) − z_y, with the maximum subtracted before exponentiating.
 * When `dLogits` is given, writes ∂CE/∂z there (sigmoid(z) − y, resp. softmax(z) − onehot(y)).
 */
export function crossEntropy(logits: Floats, classes: number, label: number, dLogits?: Floats): number {
  if (classes === 1) {
    const z = logits[0];
    const loss = Math.max(z, 0) - label * z + Math.log1p(Math.exp(-Math.abs(z)));
    if (dLogits) {
      const e = Math.exp(-Math.abs(z)); // stable sigmoid
      const sigmoid = z >= 0 ? 1 / (1 + e) : e / (1 + e);
      dLogits[0] = sigmoid - label;
    }
    return loss;
  }
  let max = -Infinity;
  for (let k = 0; k < classes; k++) if (logits[k] > max) max = logits[k];
  let sum = 0;
  for (let k = 0; k < classes; k++) sum += Math.exp(logits[k] - max);
  const logSumExp = max + Math.log(sum);
  if (dLogits) {
    for (let k = 0; k < classes; k++) dLogits[k] = Math.exp(logits[k] - max) / sum - (k === label ? 1 : 0);
  }
  // With an infinite logit, max − max is NaN and the loss NaN: the driver reads that as divergence.
  return logSumExp - logits[label];
}

/** Predicted class: logit > 0 for a single output, else the first largest logit. */
export function predict(logits: Floats, classes: number): number {
  if (classes === 1) return logits[0] > 0 ? 1 : 0;
  let best = 0;
  for (let k = 1; k < classes; k++) if (logits[k] > logits[best]) best = k;
  return best;
}

/** Collect the indices of the non-zero inputs of row `row`; returns how many. */
function nonZeroInputs(x: Float32Array, row: number, d: number, out: Int32Array): number {
  const base = row * d;
  let n = 0;
  for (let i = 0; i < d; i++) if (x[base + i] !== 0) out[n++] = i;
  return n;
}

/**
 * Forward pass of row `row` of `data`: fills ws.logits (and ws.hidden for the mlp).
 * Returns the number of non-zero inputs, whose indices are in ws.nonZero.
 */
export function forward(shape: ModelShape, params: Floats, data: Dataset, row: number, ws: Workspace): number {
  const { inputs: d, hidden: H, classes: C } = shape;
  const L = layoutOf(shape);
  const x = data.x;
  const base = row * d;
  const nz = nonZeroInputs(x, row, d, ws.nonZero);
  const logits = ws.logits;

  // Input of the output layer: the hidden activations (mlp) or the inputs themselves (linear).
  if (shape.model === 'mlp') {
    const h = ws.hidden;
    for (let j = 0; j < H; j++) h[j] = params[L.b1 + j];
    for (let t = 0; t < nz; t++) {
      const i = ws.nonZero[t];
      const xi = x[base + i];
      const w = L.w1 + i * H; // row i of W1
      for (let j = 0; j < H; j++) h[j] += xi * params[w + j];
    }
    for (let j = 0; j < H; j++) if (h[j] < 0) h[j] = 0; // ReLU; a NaN stays NaN and reaches the loss
    for (let k = 0; k < C; k++) logits[k] = params[L.b2 + k];
    for (let j = 0; j < H; j++) {
      const hj = h[j];
      if (hj === 0) continue;
      const w = L.w2 + j * C;
      for (let k = 0; k < C; k++) logits[k] += hj * params[w + k];
    }
  } else {
    for (let k = 0; k < C; k++) logits[k] = params[L.b2 + k];
    for (let t = 0; t < nz; t++) {
      const i = ws.nonZero[t];
      const xi = x[base + i];
      const w = L.w2 + i * C;
      for (let k = 0; k < C; k++) logits[k] += xi * params[w + k];
    }
  }
  return nz;
}

/**
 * Add the gradient of the cross-entropy of row `row` to `gradSum` (same layout as params) and
 * return that cross-entropy. No averaging and no L2 here: the caller divides by the batch size and
 * adds l2·w.
 */
export function accumulateExample(
  shape: ModelShape,
  params: Floats,
  data: Dataset,
  row: number,
  gradSum: Floats,
  ws: Workspace,
): number {
  const { inputs: d, hidden: H, classes: C } = shape;
  const L = layoutOf(shape);
  const nz = forward(shape, params, data, row, ws);
  const loss = crossEntropy(ws.logits, C, data.y[row], ws.dLogits);
  const g = ws.dLogits;
  const x = data.x;
  const base = row * d;

  for (let k = 0; k < C; k++) gradSum[L.b2 + k] += g[k];
  if (shape.model === 'mlp') {
    const h = ws.hidden;
    const dh = ws.dHidden;
    // Output layer: dW2[j,k] += h_j g_k; back-propagate dh_j = Σ_k W2[j,k] g_k through the ReLU.
    for (let j = 0; j < H; j++) {
      const hj = h[j];
      if (hj === 0) {
        dh[j] = 0; // ReLU inactive: no gradient to W1 through unit j, and none to W2's row j
        continue;
      }
      const w = L.w2 + j * C;
      let s = 0;
      for (let k = 0; k < C; k++) {
        gradSum[w + k] += hj * g[k];
        s += params[w + k] * g[k];
      }
      dh[j] = s;
    }
    // Hidden layer: db1 += dh; dW1[i,:] += x_i dh for the non-zero inputs i.
    for (let j = 0; j < H; j++) gradSum[L.b1 + j] += dh[j];
    for (let t = 0; t < nz; t++) {
      const i = ws.nonZero[t];
      const xi = x[base + i];
      const w = L.w1 + i * H;
      for (let j = 0; j < H; j++) gradSum[w + j] += xi * dh[j];
    }
  } else {
    for (let t = 0; t < nz; t++) {
      const i = ws.nonZero[t];
      const xi = x[base + i];
      const w = L.w2 + i * C;
      for (let k = 0; k < C; k++) gradSum[w + k] += xi * g[k];
    }
  }
  return loss;
}

/**
 * Full gradient of (batch-mean CE + l2/2·|w|²) on `rows` into `out` (overwritten); returns the
 * batch-mean CE (without the L2 term). Used by the tests; the kernel fuses the last loop with its update.
 */
export function batchGradient(
  shape: ModelShape,
  params: Floats,
  data: Dataset,
  rows: Int32Array,
  l2: number,
  out: Floats,
  ws: Workspace,
): number {
  out.fill(0);
  let loss = 0;
  for (let b = 0; b < rows.length; b++) loss += accumulateExample(shape, params, data, rows[b], out, ws);
  const B = rows.length;
  for (let i = 0; i < out.length; i++) out[i] = out[i] / B + l2 * params[i];
  return loss / B;
}

/** Batch-mean CE + l2/2·|w|² (the objective whose gradient batchGradient computes). */
export function batchObjective(
  shape: ModelShape,
  params: Floats,
  data: Dataset,
  rows: Int32Array,
  l2: number,
  ws: Workspace,
): number {
  let loss = 0;
  for (let b = 0; b < rows.length; b++) {
    forward(shape, params, data, rows[b], ws);
    loss += crossEntropy(ws.logits, shape.classes, data.y[rows[b]]);
  }
  let sq = 0;
  for (let i = 0; i < params.length; i++) sq += params[i] * params[i];
  return loss / rows.length + (l2 / 2) * sq;
}

/** Mean CE and accuracy over a whole dataset. */
export function evaluateDataset(
  shape: ModelShape,
  params: Floats,
  data: Dataset,
  ws: Workspace,
): { loss: number; accuracy: number } {
  if (data.d !== shape.inputs) throw new Error(`dataset has ${data.d} inputs, the model ${shape.inputs}`);
  if (data.n === 0) return { loss: NaN, accuracy: NaN };
  let loss = 0;
  let correct = 0;
  for (let r = 0; r < data.n; r++) {
    forward(shape, params, data, r, ws);
    loss += crossEntropy(ws.logits, shape.classes, data.y[r]);
    if (predict(ws.logits, shape.classes) === data.y[r]) correct++;
  }
  return { loss: loss / data.n, accuracy: correct / data.n };
}
