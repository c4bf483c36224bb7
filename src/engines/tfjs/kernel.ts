/**
 * The TensorFlow.js kernel: the three models written with tf ops, forward and backward pass explicit
 * (no autodiff: fewer ops per step, and the same algebra as the reference, so easy to compare).
 *
 * Parameters are tf.Variables in the shared layout's semantics: W [inputs × classes] row-major is a
 * 2-D tensor [inputs, classes]; the MLP has W1 [inputs, hidden], b1 [hidden], W2 [hidden, classes],
 * b2 [classes]. The training set also stays on the backend, for full-batch steps and evaluation.
 *
 * Measured on the wasm backend (tfjs 4.22, see the engine report): tf.gather of 100 MNIST rows costs
 * ~7 ms, copying them in JavaScript and uploading ~0.1 ms, so a minibatch is assembled in JS. And
 * wasm's matMul with transposeA/transposeB falls off XNNPACK onto a slow loop (10-100× slower), so on
 * wasm the operand is transposed explicitly first (`explicitTranspose`); tfjs-node's native MatMul
 * takes the flags as they are.
 *
 * Update, exactly as the reference (TensorFlow's momentum form, L2 on weights AND biases):
 *   g = mean-CE gradient + l2·w;  A ← m·A + g;  w ← w − lr·A
 * Output: classes = 1 → one logit, sigmoid, binary CE in softplus form
 *         (max(z,0) − y·z + log1p(exp(−|z|))); otherwise softmax CE (logsumexp(z) − z_y).
 */
import type { Scalar, Tensor, Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs';
import { parameterCount, type Dataset, type Evaluation, type Kernel, type KernelOptions, type ModelShape } from '../types.js';
import type { Tf } from './backend.js';

/** Rows per chunk in evaluate(): bounds the activations held at once ([chunk × hidden] floats). */
const EVAL_CHUNK = 2000;

interface Block {
  /** Offset in the flat parameter vector. */
  at: number;
  shape: [number] | [number, number];
  size: number;
}

function blocksOf(s: ModelShape): Block[] {
  const dims: Array<[number] | [number, number]> =
    s.model === 'mlp'
      ? [[s.inputs, s.hidden], [s.hidden], [s.hidden, s.classes], [s.classes]]
      : [[s.inputs, s.classes], [s.classes]];
  let at = 0;
  return dims.map((shape) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const block = { at, shape, size };
    at += size;
    return block;
  });
}

export interface TfjsKernelTuning {
  /** Transpose operands with tf.transpose instead of matMul's transpose flags (wasm). */
  explicitTranspose: boolean;
}

export class TfjsKernel implements Kernel {
  private readonly blocks: Block[];
  /** [W, b] (linear) or [W1, b1, W2, b2] (mlp). */
  private readonly params: Variable[];
  /** Momentum buffers A, same shapes; empty when m = 0. */
  private readonly velocity: Variable[];
  /** Training inputs [n, d]. */
  private readonly trainX: Tensor2D;
  /** Its transpose [d, n], made on the first full-batch step when transposing explicitly. */
  private trainXT: Tensor2D | undefined;
  /** Training targets: one-hot [n, classes] (softmax) or 0/1 [n, 1] (sigmoid), float32. */
  private readonly trainT: Tensor2D;
  private readonly lr: Scalar;
  private readonly momentum: Scalar;
  private readonly l2: Scalar;
  private disposed = false;

  constructor(
    private readonly tf: Tf,
    readonly shape: ModelShape,
    private readonly train: Dataset,
    private readonly options: KernelOptions,
    private readonly tuning: TfjsKernelTuning = { explicitTranspose: false },
  ) {
    if (train.d !== shape.inputs) throw new Error(`training data has ${train.d} inputs, the model ${shape.inputs}`);
    if (shape.model === 'mlp' && !(shape.hidden > 0)) throw new Error('mlp needs hidden > 0');
    this.blocks = blocksOf(shape);
    const created: Tensor[] = [];
    try {
      const keep = <T extends Tensor>(t: T): T => {
        created.push(t);
        return t;
      };
      this.trainX = keep(tf.tensor2d(train.x.subarray(0, train.n * train.d), [train.n, train.d], 'float32'));
      this.trainT = keep(
        tf.tidy(() => {
          if (shape.classes === 1) {
            return tf.tensor2d(Float32Array.from(train.y.subarray(0, train.n)), [train.n, 1], 'float32');
          }
          const y = tf.tensor1d(train.y.subarray(0, train.n), 'int32');
          return tf.cast(tf.oneHot(y, shape.classes), 'float32') as Tensor2D;
        }),
      );
      const zeroVariable = (b: Block): Variable => {
        const zeros = tf.zeros(b.shape);
        try {
          return keep(tf.variable(zeros, false));
        } finally {
          zeros.dispose(); // the variable holds its own reference to the data
        }
      };
      this.params = this.blocks.map(zeroVariable);
      this.velocity = options.momentum > 0 ? this.blocks.map(zeroVariable) : [];
      this.lr = keep(tf.scalar(options.lr));
      this.momentum = keep(tf.scalar(options.momentum));
      this.l2 = keep(tf.scalar(options.l2));
    } catch (e) {
      for (const t of created) t.dispose();
      throw e;
    }
  }

  private alive(): void {
    if (this.disposed) throw new Error('tfjs kernel used after dispose()');
  }

  setParameters(params: Float32Array): void {
    this.alive();
    const P = parameterCount(this.shape);
    if (params.length !== P) throw new Error(`setParameters: expected ${P} values, got ${params.length}`);
    const { tf } = this;
    tf.tidy(() => {
      this.blocks.forEach((b, i) => {
        // A copy: the caller may reuse its array.
        this.params[i].assign(tf.tensor(params.slice(b.at, b.at + b.size), b.shape, 'float32'));
        this.velocity[i]?.assign(tf.zeros(b.shape));
      });
    });
  }

  getParameters(): Float32Array {
    this.alive();
    const out = new Float32Array(parameterCount(this.shape));
    this.blocks.forEach((b, i) => out.set(this.params[i].dataSync() as Float32Array, b.at));
    return out;
  }

  /** Logits [rows, classes] of inputs x [rows, d], and the hidden activations (mlp). */
  private forward(x: Tensor2D): { z: Tensor2D; h?: Tensor2D } {
    const { tf } = this;
    if (this.shape.model === 'mlp') {
      const [w1, b1, w2, b2] = this.params;
      const h = tf.fused.matMul({ a: x, b: w1 as Tensor2D, bias: b1, activation: 'relu' }) as Tensor2D;
      const z = tf.fused.matMul({ a: h, b: w2 as Tensor2D, bias: b2 }) as Tensor2D;
      return { z, h };
    }
    const [w, b] = this.params;
    return { z: tf.fused.matMul({ a: x, b: w as Tensor2D, bias: b }) as Tensor2D };
  }

  /**
   * Per-example cross-entropy [rows] from logits z [rows, C] and targets t (one-hot [rows, C], or
   * 0/1 [rows, 1]); with `withGrad`, also ∂CE/∂z (not yet divided by the batch size).
   */
  private crossEntropy(z: Tensor2D, t: Tensor2D, withGrad: boolean): { ce: Tensor1D; dz?: Tensor2D } {
    const { tf } = this;
    if (this.shape.classes === 1) {
      // softplus(z) − y·z, stably: max(z, 0) − y·z + log1p(exp(−|z|)).
      const ce = tf.add(tf.sub(tf.relu(z), tf.mul(t, z)), tf.log1p(tf.exp(tf.neg(tf.abs(z))))).reshape([-1]) as Tensor1D;
      return { ce, dz: withGrad ? (tf.sub(tf.sigmoid(z), t) as Tensor2D) : undefined };
    }
    const lse = tf.logSumExp(z, 1, true); // [rows, 1], max subtracted inside
    const ce = tf.sub(lse.reshape([-1]), tf.sum(tf.mul(z, t), 1)) as Tensor1D;
    return { ce, dz: withGrad ? (tf.sub(tf.exp(tf.sub(z, lse)), t) as Tensor2D) : undefined };
  }

  /** aᵀ·b. A single row is an outer product, done as a broadcast multiply (exact, and fastest). */
  private matMulTA(a: Tensor2D, b: Tensor2D, aT?: Tensor2D): Tensor2D {
    const { tf } = this;
    if (a.shape[0] === 1) return tf.mul(a.reshape([a.shape[1], 1]), b) as Tensor2D;
    if (aT) return tf.matMul(aT, b);
    return this.tuning.explicitTranspose ? tf.matMul(tf.transpose(a), b) : tf.matMul(a, b, true, false);
  }

  /** a·bᵀ. */
  private matMulTB(a: Tensor2D, b: Tensor2D): Tensor2D {
    const { tf } = this;
    return this.tuning.explicitTranspose ? tf.matMul(a, tf.transpose(b)) : tf.matMul(a, b, false, true);
  }

  /** Inputs [B, d] and targets of the batch rows, copied in JavaScript and uploaded. */
  private uploadBatch(batch: Int32Array): { x: Tensor2D; t: Tensor2D } {
    const { tf } = this;
    const { x: X, y: Y, d } = this.train;
    const B = batch.length;
    const C = this.shape.classes;
    // Fresh arrays: the cpu backend keeps the array it is given instead of copying it.
    const xb = new Float32Array(B * d);
    const tb = new Float32Array(B * C);
    for (let b = 0; b < B; b++) {
      const row = batch[b];
      xb.set(X.subarray(row * d, row * d + d), b * d);
      if (C === 1) tb[b] = Y[row];
      else tb[b * C + Y[row]] = 1;
    }
    return { x: tf.tensor2d(xb, [B, d], 'float32'), t: tf.tensor2d(tb, [B, C], 'float32') };
  }

  step(batch: Int32Array): number {
    this.alive();
    const B = batch.length;
    if (B === 0) throw new Error('step: empty batch');
    const n = this.train.n;
    let inOrder = B === n;
    for (let b = 0; b < B; b++) {
      const row = batch[b];
      if (!(row >= 0 && row < n)) throw new Error(`step: row ${row} outside the ${n} training examples`);
      if (row !== b) inOrder = false;
    }
    const { tf } = this;
    // Full-batch runs use the whole training set in order: it is already on the backend.
    if (inOrder && this.tuning.explicitTranspose && B > 1 && !this.trainXT) {
      this.trainXT = tf.transpose(this.trainX);
    }
    const loss = tf.tidy(() => {
      const { x, t } = inOrder ? { x: this.trainX, t: this.trainT } : this.uploadBatch(batch);
      const xT = inOrder ? this.trainXT : undefined;
      const { z, h } = this.forward(x);
      const { ce, dz } = this.crossEntropy(z, t, true);
      const lossMean = tf.mean(ce);
      const dZ = tf.div(dz!, B) as Tensor2D; // gradient of the batch MEAN
      let grads: Tensor[];
      if (this.shape.model === 'mlp') {
        const w2 = this.params[2] as Tensor2D;
        const dW2 = this.matMulTA(h!, dZ);
        const db2 = tf.sum(dZ, 0);
        // Back through ReLU: units with h = 0 get no gradient (as in the reference).
        const dH = tf.mul(this.matMulTB(dZ, w2), tf.step(h!)) as Tensor2D;
        const dW1 = this.matMulTA(x, dH, xT);
        const db1 = tf.sum(dH, 0);
        grads = [dW1, db1, dW2, db2];
      } else {
        grads = [this.matMulTA(x, dZ, xT), tf.sum(dZ, 0)];
      }
      const { momentum, l2 } = this.options;
      this.params.forEach((p, i) => {
        let g = grads[i];
        if (l2 > 0) g = tf.add(g, tf.mul(this.l2, p));
        if (momentum > 0) {
          const a = tf.add(tf.mul(this.momentum, this.velocity[i]), g);
          this.velocity[i].assign(a);
          g = a;
        }
        p.assign(tf.sub(p, tf.mul(this.lr, g)));
      });
      return lossMean;
    });
    const value = loss.dataSync()[0];
    loss.dispose();
    return value;
  }

  evaluate(data: Dataset): Evaluation {
    this.alive();
    if (data.d !== this.shape.inputs) throw new Error(`dataset has ${data.d} inputs, the model ${this.shape.inputs}`);
    if (data.n === 0) return { loss: NaN, accuracy: NaN };
    const { tf } = this;
    const C = this.shape.classes;
    const d = data.d;
    const onTrain = data === this.train;
    let lossSum = 0;
    let correct = 0;
    for (let r0 = 0; r0 < data.n; r0 += EVAL_CHUNK) {
      const rows = Math.min(EVAL_CHUNK, data.n - r0);
      const sums = tf.tidy(() => {
        const x = onTrain
          ? (tf.slice(this.trainX, [r0, 0], [rows, d]) as Tensor2D)
          : tf.tensor2d(data.x.subarray(r0 * d, (r0 + rows) * d), [rows, d], 'float32');
        const y = tf.tensor1d(data.y.subarray(r0, r0 + rows), 'int32');
        const t = C === 1 ? (tf.cast(y, 'float32').reshape([rows, 1]) as Tensor2D) : (tf.cast(tf.oneHot(y, C), 'float32') as Tensor2D);
        const { z } = this.forward(x);
        const { ce } = this.crossEntropy(z, t, false);
        // Predicted class: logit > 0 for one output, else the first largest logit.
        const predicted = C === 1 ? tf.cast(tf.greater(z.reshape([-1]), 0), 'int32') : tf.argMax(z, 1);
        const hits = tf.sum(tf.cast(tf.equal(predicted, y), 'float32'));
        return tf.stack([tf.sum(ce), hits]);
      });
      const [l, c] = sums.dataSync();
      sums.dispose();
      lossSum += l;
      correct += c;
    }
    return { loss: lossSum / data.n, accuracy: correct / data.n };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of [...this.params, ...this.velocity, this.trainX, this.trainT, this.lr, this.momentum, this.l2]) t.dispose();
    this.trainXT?.dispose();
  }
}
