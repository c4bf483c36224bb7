/**
 * The TensorFlow.js kernel: the three models written with tf ops, forward and backward pass explicit
 * (no autodiff: fewer ops per step, and the same algebra as the reference, so easy to compare).
 *
 * Orientation. The kernel works "unit-major": activations are [units × batch] and each weight matrix
 * is held as the TRANSPOSE of its block of the shared layout:
 *   linear: V = Wᵀ [classes, inputs], c = b [classes, 1]
 *   mlp:    V1 = W1ᵀ [hidden, inputs], c1 [hidden, 1], V2 = W2ᵀ [classes, hidden], c2 [classes, 1]
 * get/setParameters transpose to and from the shared layout (W [inputs × classes] row-major etc.).
 * Why: every matMul then has the big, changing weights as its LEFT operand and the per-step data
 * (the batch, small) on the right. The wasm backend (XNNPACK) packs the right operand of a matMul
 * afresh whenever that tensor is new; with the weights on the right (the row-major orientation),
 * that re-packing of 627k weights after every update cost 11-20 ms per step for the MLP at B = 1,
 * twenty times the arithmetic. Measured numbers: see the engine report.
 *
 * Also measured on wasm (tfjs 4.22): tf.gather of 100 MNIST rows ~7 ms, the same rows copied in
 * JavaScript and uploaded ~0.1 ms, so a minibatch is assembled in JS (both orientations); and wasm's
 * matMul with transpose flags leaves XNNPACK for a 10-100× slower loop, so on wasm the few remaining
 * transposes are explicit tf.transpose (`explicitTranspose`); tfjs-node takes the flags.
 * The training set also stays on the backend (both orientations) for full-batch steps and evaluation.
 *
 * Update, exactly as the reference (TensorFlow's momentum form, L2 on weights AND biases):
 *   g = mean-CE gradient + l2·w;  A ← m·A + g;  w ← w − lr·A
 * Output: classes = 1 → one logit, sigmoid, binary CE in softplus form
 *         (max(z,0) − y·z + log1p(exp(−|z|))); otherwise softmax CE (logsumexp(z) − z_y).
 */
import type { Scalar, Tensor, Tensor2D, Variable } from '@tensorflow/tfjs';
import {
  parameterCount,
  type Dataset,
  type Evaluation,
  type Kernel,
  type KernelOptions,
  type ModelShape,
} from '../types.js';
import type { Tf } from './backend.js';

/** Examples per chunk in evaluate(): bounds the activations held at once ([hidden × chunk] floats). */
const EVAL_CHUNK = 2000;

interface Block {
  /** Offset in the flat parameter vector. */
  at: number;
  /** Rows × columns of the block in the shared layout (a bias is [units, 1]). */
  rows: number;
  cols: number;
  /** Weight block: held transposed ([cols, rows]); bias: held as [rows, 1]. */
  weight: boolean;
}

function blocksOf(s: ModelShape): Block[] {
  const dims: Array<[number, number, boolean]> =
    s.model === 'mlp'
      ? [
          [s.inputs, s.hidden, true],
          [s.hidden, 1, false],
          [s.hidden, s.classes, true],
          [s.classes, 1, false],
        ]
      : [
          [s.inputs, s.classes, true],
          [s.classes, 1, false],
        ];
  let at = 0;
  return dims.map(([rows, cols, weight]) => {
    const block = { at, rows, cols, weight };
    at += rows * cols;
    return block;
  });
}

/** Shape of a block as held by the kernel. */
function heldShape(b: Block): [number, number] {
  return b.weight ? [b.cols, b.rows] : [b.rows, 1];
}

export interface TfjsKernelTuning {
  /** Transpose operands with tf.transpose instead of matMul's transpose flags (wasm). */
  explicitTranspose: boolean;
}

/** One batch as the kernel uses it. */
interface BatchTensors {
  /** Inputs, example-major [B, d]. */
  x: Tensor2D;
  /** Inputs, feature-major [d, B]. */
  xT: Tensor2D;
  /** Targets [classes, B]: one-hot columns (softmax) or 0/1 (sigmoid). */
  tT: Tensor2D;
}

export class TfjsKernel implements Kernel {
  private readonly blocks: Block[];
  /** [V, c] (linear) or [V1, c1, V2, c2] (mlp); see the orientation note above. */
  private readonly params: Variable[];
  /** Momentum buffers A, same shapes; empty when m = 0. */
  private readonly velocity: Variable[];
  /** The whole training set (for full-batch steps). */
  private readonly full: BatchTensors;
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
      const all = new Int32Array(train.n);
      for (let i = 0; i < train.n; i++) all[i] = i;
      const full = this.upload(all);
      this.full = { x: keep(full.x), xT: keep(full.xT), tT: keep(full.tT) };
      const zeroVariable = (b: Block): Variable => {
        const zeros = tf.zeros(heldShape(b));
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
        // A copy: the caller may reuse its array (and the cpu backend would keep it).
        const block = tf.tensor2d(params.slice(b.at, b.at + b.rows * b.cols), [b.rows, b.cols], 'float32');
        this.params[i].assign(b.weight ? tf.transpose(block) : block);
        this.velocity[i]?.assign(tf.zerosLike(this.velocity[i]));
      });
    });
  }

  getParameters(): Float32Array {
    this.alive();
    const { tf } = this;
    const out = new Float32Array(parameterCount(this.shape));
    this.blocks.forEach((b, i) => {
      const p = this.params[i];
      if (!b.weight) {
        out.set(p.dataSync() as Float32Array, b.at);
        return;
      }
      const w = tf.transpose(p);
      out.set(w.dataSync() as Float32Array, b.at);
      w.dispose();
    });
    return out;
  }

  /**
   * The transpose, always a copy, never a reshape, even of a vector: the wasm backend caches the
   * packed right operand of a matMul by tensor DATA id, not by shape, so one buffer used as the right
   * operand under two shapes (a reshape shares the buffer) reuses the wrong operator and aborts
   * ("Aborted()", then "memory access out of bounds"). Found the hard way; keep it so.
   */
  private transpose(a: Tensor2D): Tensor2D {
    return this.tf.transpose(a);
  }

  /**
   * a·bᵀ, the result [rows of a, rows of b]. On wasm computed as (b·aᵀ)ᵀ when that puts the smaller
   * operand on the right (`aIsSmaller`), since the right operand is what gets packed.
   */
  private matMulTB(a: Tensor2D, b: Tensor2D, aIsSmaller = false): Tensor2D {
    const { tf } = this;
    if (!this.tuning.explicitTranspose) return tf.matMul(a, b, false, true);
    if (aIsSmaller) return this.transpose(tf.matMul(b, this.transpose(a)));
    return tf.matMul(a, this.transpose(b));
  }

  /** aᵀ·b. */
  private matMulTA(a: Tensor2D, b: Tensor2D): Tensor2D {
    const { tf } = this;
    return this.tuning.explicitTranspose ? tf.matMul(this.transpose(a), b) : tf.matMul(a, b, true, false);
  }

  /** Inputs (both orientations) and targets of rows `batch` of the training set, copied in JS and uploaded. */
  private upload(batch: Int32Array): BatchTensors {
    const { tf } = this;
    const { x: X, y: Y, d } = this.train;
    const B = batch.length;
    const C = this.shape.classes;
    // Fresh arrays: the cpu backend keeps the array it is given instead of copying it.
    const xb = new Float32Array(B * d);
    const xbT = new Float32Array(d * B);
    const tbT = new Float32Array(C * B);
    for (let b = 0; b < B; b++) {
      const row = batch[b];
      const src = row * d;
      xb.set(X.subarray(src, src + d), b * d);
      for (let i = 0; i < d; i++) xbT[i * B + b] = X[src + i];
      if (C === 1) tbT[b] = Y[row];
      else tbT[Y[row] * B + b] = 1;
    }
    return {
      x: tf.tensor2d(xb, [B, d], 'float32'),
      xT: tf.tensor2d(xbT, [d, B], 'float32'),
      tT: tf.tensor2d(tbT, [C, B], 'float32'),
    };
  }

  /**
   * Logits [classes, B] of a batch, and the hidden activations [hidden, B] (mlp). `constant`: the
   * batch tensors are the same on every call (the full training set), so wasm packs them only once.
   */
  private forward(batch: { x: Tensor2D; xT: Tensor2D }, constant: boolean): { zT: Tensor2D; hT?: Tensor2D } {
    const { tf } = this;
    if (this.shape.model === 'mlp') {
      const [v1, c1, v2, c2] = this.params as Tensor2D[];
      const hT = tf.relu(tf.add(tf.matMul(v1, batch.xT), c1)) as Tensor2D;
      const zT = tf.add(tf.matMul(v2, hT), c2) as Tensor2D;
      return { zT, hT };
    }
    const [v, c] = this.params as Tensor2D[];
    // Linear: on wasm, a fresh batch goes on the left (x·Wᵀ, W small on the right).
    const logits =
      constant || !this.tuning.explicitTranspose
        ? tf.matMul(v, batch.xT)
        : this.transpose(tf.matMul(batch.x, this.transpose(v)));
    return { zT: tf.add(logits, c) as Tensor2D };
  }

  /**
   * Per-example cross-entropy [1, B] from logits zT [C, B] and targets tT (one-hot columns, or 0/1
   * [1, B]); with `withGrad`, also ∂CE/∂z [C, B] (not yet divided by the batch size).
   */
  private crossEntropy(zT: Tensor2D, tT: Tensor2D, withGrad: boolean): { ce: Tensor2D; dzT?: Tensor2D } {
    const { tf } = this;
    if (this.shape.classes === 1) {
      // softplus(z) − y·z, stably: max(z, 0) − y·z + log1p(exp(−|z|)).
      const ce = tf.add(tf.sub(tf.relu(zT), tf.mul(tT, zT)), tf.log1p(tf.exp(tf.neg(tf.abs(zT))))) as Tensor2D;
      return { ce, dzT: withGrad ? (tf.sub(tf.sigmoid(zT), tT) as Tensor2D) : undefined };
    }
    const lse = tf.logSumExp(zT, 0, true); // [1, B], max subtracted inside
    const ce = tf.sub(lse, tf.sum(tf.mul(zT, tT), 0, true)) as Tensor2D;
    return { ce, dzT: withGrad ? (tf.sub(tf.exp(tf.sub(zT, lse)), tT) as Tensor2D) : undefined };
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
    const loss = tf.tidy(() => {
      // Full-batch runs use the whole training set in order: it is already on the backend.
      const { x, xT, tT } = inOrder ? this.full : this.upload(batch);
      const { zT, hT } = this.forward({ x, xT }, inOrder);
      const { ce, dzT } = this.crossEntropy(zT, tT, true);
      const lossMean = tf.mean(ce);
      const dZ = tf.div(dzT!, B) as Tensor2D; // gradient of the batch MEAN, [C, B]
      let grads: Tensor[];
      if (this.shape.model === 'mlp') {
        const v2 = this.params[2] as Tensor2D;
        const dV2 = this.matMulTB(dZ, hT!, true); // dW2ᵀ = dZ·h      [C, H]
        const dc2 = tf.sum(dZ, 1, true);
        // Back through ReLU: units with h = 0 get no gradient (as in the reference).
        const dH = tf.mul(this.matMulTA(v2, dZ), tf.step(hT!)) as Tensor2D; // W2·dZ  [H, B]
        const dV1 = tf.matMul(dH, x); // dW1ᵀ = dH·x  [H, d] (at B = 1 a matMul beats a broadcast multiply)
        const dc1 = tf.sum(dH, 1, true);
        grads = [dV1, dc1, dV2, dc2];
      } else {
        // dWᵀ = dZ·x [C, d]; on wasm as (xᵀ·dZᵀ)ᵀ, so that the small dZᵀ is packed, not the batch.
        const dV = inOrder || !this.tuning.explicitTranspose ? tf.matMul(dZ, x) : this.matMulTB(dZ, xT, true);
        grads = [dV, tf.sum(dZ, 1, true)];
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
    // Example-major: chunks x [rows, d] times the weights in the shared orientation, transposed
    // once per call (one tensor for all chunks, so wasm packs it once).
    const weights = tf.tidy(() =>
      this.params.map((p, i) =>
        this.blocks[i].weight ? this.transpose(p as Tensor2D) : p.reshape([this.blocks[i].rows]),
      ),
    );
    let lossSum = 0;
    let correct = 0;
    try {
      for (let r0 = 0; r0 < data.n; r0 += EVAL_CHUNK) {
        const rows = Math.min(EVAL_CHUNK, data.n - r0);
        const sums = tf.tidy(() => {
          const x = onTrain
            ? (tf.slice(this.full.x, [r0, 0], [rows, d]) as Tensor2D)
            : tf.tensor2d(data.x.slice(r0 * d, (r0 + rows) * d), [rows, d], 'float32');
          let z: Tensor2D;
          if (this.shape.model === 'mlp') {
            const [w1, b1, w2, b2] = weights as Tensor2D[];
            z = tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x, w1), b1)) as Tensor2D, w2), b2) as Tensor2D;
          } else {
            const [w, b] = weights as Tensor2D[];
            z = tf.add(tf.matMul(x, w), b) as Tensor2D;
          }
          const zT = this.transpose(z); // [C, rows]
          const y = tf.tensor1d(data.y.slice(r0, r0 + rows), 'int32');
          const tT =
            C === 1
              ? (tf.cast(y, 'float32').reshape([1, rows]) as Tensor2D)
              : this.transpose(tf.cast(tf.oneHot(y, C), 'float32') as Tensor2D);
          const { ce } = this.crossEntropy(zT, tT, false);
          // Predicted class: logit > 0 for one output, else the first largest logit.
          const predicted = C === 1 ? tf.cast(tf.greater(zT.reshape([rows]), 0), 'int32') : tf.argMax(zT, 0);
          const hits = tf.sum(tf.cast(tf.equal(predicted, y), 'float32'));
          return tf.stack([tf.sum(ce), hits]);
        });
        const [l, c] = sums.dataSync();
        sums.dispose();
        lossSum += l;
        correct += c;
      }
    } finally {
      tf.dispose(weights);
    }
    return { loss: lossSum / data.n, accuracy: correct / data.n };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const { x, xT, tT } = this.full;
    for (const t of [...this.params, ...this.velocity, x, xT, tT, this.lr, this.momentum, this.l2]) t.dispose();
  }
}
