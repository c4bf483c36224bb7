/**
 * Initial parameters, PyTorch's default nn.Linear initialisation: every weight and bias of a layer
 * with fan_in inputs is drawn from U(-1/√fan_in, 1/√fan_in) (kaiming_uniform with a = √5 gives
 * exactly that bound for the weights; the bias uses the same bound). Values are drawn in the order
 * of the shared parameter layout (see types.ts), from the caller's stream (the driver uses 'init').
 */
import type { Rng } from './rng.js';
import { parameterCount, type ModelShape } from './types.js';

function fillUniform(out: Float32Array, from: number, count: number, bound: number, rng: Rng): void {
  for (let i = 0; i < count; i++) out[from + i] = bound * (2 * rng.uniform() - 1);
}

export function initParameters(shape: ModelShape, rng: Rng): Float32Array {
  const p = new Float32Array(parameterCount(shape));
  const { inputs, hidden, classes } = shape;
  if (shape.model === 'mlp') {
    const b1 = 1 / Math.sqrt(inputs);
    const b2 = 1 / Math.sqrt(hidden);
    let at = 0;
    fillUniform(p, at, inputs * hidden, b1, rng); // W1
    at += inputs * hidden;
    fillUniform(p, at, hidden, b1, rng); // b1
    at += hidden;
    fillUniform(p, at, hidden * classes, b2, rng); // W2
    at += hidden * classes;
    fillUniform(p, at, classes, b2, rng); // b2
  } else {
    fillUniform(p, 0, inputs * classes + classes, 1 / Math.sqrt(inputs), rng); // W then b
  }
  return p;
}
