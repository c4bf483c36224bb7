/**
 * The reference engine: the readable truth that faster engines are checked against. Float32Array
 * storage, plain loops (model.ts), one example at a time.
 *
 * Update (TensorFlow's momentum form, as in the paper):
 *   g = (1/B)·Σ_batch ∇CE + l2·w      (L2 applies to every parameter, weights AND biases: the
 *                                      paper's Gaussian prior is on every weight)
 *   A ← m·A + g;  w ← w − lr·A        (m = 0: plain SGD)
 */
import { ENGINE_VERSIONS } from '../versions.js';
import {
  parameterCount,
  type Dataset,
  type Evaluation,
  type Kernel,
  type KernelFactory,
  type KernelOptions,
  type ModelShape,
} from '../types.js';
import { accumulateExample, createWorkspace, evaluateDataset, type Workspace } from './model.js';

export class ReferenceKernel implements Kernel {
  private readonly params: Float32Array;
  /** Momentum buffer A. */
  private readonly velocity: Float32Array;
  /** Sum over the batch of the per-example gradients. */
  private readonly gradSum: Float32Array;
  private readonly ws: Workspace;

  constructor(
    readonly shape: ModelShape,
    private readonly train: Dataset,
    private readonly options: KernelOptions,
  ) {
    if (train.d !== shape.inputs) throw new Error(`training data has ${train.d} inputs, the model ${shape.inputs}`);
    const P = parameterCount(shape);
    this.params = new Float32Array(P);
    this.velocity = new Float32Array(P);
    this.gradSum = new Float32Array(P);
    this.ws = createWorkspace(shape, Float32Array);
  }

  setParameters(params: Float32Array): void {
    if (params.length !== this.params.length) {
      throw new Error(`setParameters: expected ${this.params.length} values, got ${params.length}`);
    }
    this.params.set(params);
    this.velocity.fill(0);
  }

  getParameters(): Float32Array {
    return this.params.slice();
  }

  step(batch: Int32Array): number {
    const B = batch.length;
    if (B === 0) throw new Error('step: empty batch');
    const { params, velocity, gradSum } = this;
    const { lr, momentum, l2 } = this.options;
    for (let b = 0; b < B; b++) {
      const row = batch[b];
      if (!(row >= 0 && row < this.train.n))
        throw new Error(`step: row ${row} outside the ${this.train.n} training examples`);
    }
    // gradSum is all zeros here: it starts so, and the update loop below clears it after use.
    let loss = 0;
    for (let b = 0; b < B; b++) loss += accumulateExample(this.shape, params, this.train, batch[b], gradSum, this.ws);
    for (let i = 0; i < params.length; i++) {
      const g = gradSum[i] / B + l2 * params[i];
      gradSum[i] = 0;
      velocity[i] = momentum * velocity[i] + g;
      params[i] -= lr * velocity[i];
    }
    return loss / B;
  }

  evaluate(data: Dataset): Evaluation {
    return evaluateDataset(this.shape, this.params, data, this.ws);
  }
}

export const referenceEngine: KernelFactory = {
  name: 'reference',
  version: ENGINE_VERSIONS.reference,
  backend: 'typescript',
  createKernel(shape: ModelShape, train: Dataset, options: KernelOptions): Kernel {
    return new ReferenceKernel(shape, train, options);
  },
};
