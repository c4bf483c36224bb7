/**
 * Bayesian evidence of binary logistic regression at its minimum (paper §2, Figures 1–2).
 *
 * Cost (the paper's): C(w) = Σ_i CE_i(w) + (λ/2)·|w|², CE summed over the N training examples, the
 * prior on every parameter (weights AND bias, as in the engines' L2). The task's `l2` multiplies the
 * MEAN cross-entropy (config.ts: mean CE + l2/2·|w|²), so the paper's λ = N · l2: both costs have the
 * same minimiser, and C is N times the engines' objective.
 *
 * For λ > 0, C is strictly convex: its minimum w0 is unique and depends only on (data, λ), not on
 * how SGD got there. We find it with a damped Newton method on the full batch (exact Hessian
 * Σ p(1−p)·x̃x̃ᵀ + λI, x̃ = [x; 1], Armijo backtracking), then
 *
 *   E = C(w0) + ½ Σ ln(λ_i/λ) − N ln 2 = C(w0) + ½ (ln det H − P ln λ) − N ln 2,   P = d + 1,
 *
 * the log-determinant from the Cholesky factor of H (ml-matrix). E > 0 means the null model (p = ½
 * for every example) is the more probable one. λ = 0 has no evidence (improper prior): null.
 *
 * The Newton iterations use a small Float64 Cholesky written here (2–3× faster than ml-matrix at
 * P = 785); the log-determinant that is stored comes from ml-matrix's CholeskyDecomposition.
 */
import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import type { Dataset } from './types.js';

export interface LogregProblem {
  /** n × d row-major. */
  x: ArrayLike<number>;
  /** 0/1 labels. */
  y: ArrayLike<number>;
  n: number;
  d: number;
  /** Prior precision λ on every parameter (the paper's L2 coefficient of the summed cost). */
  lambda: number;
}

export interface MinimumResult {
  /** P = d + 1 parameters: weights then bias (the engines' layout for one output). */
  w: Float64Array;
  /** C(w0). */
  cost: number;
  /** Summed cross-entropy at w0 (C without the prior term). */
  crossEntropy: number;
  gradNorm: number;
  iterations: number;
  converged: boolean;
}

export interface EvidenceResult extends MinimumResult {
  lambda: number;
  /** ln det H at w0. */
  logDetHessian: number;
  /** ½ Σ ln(λ_i/λ): the Occam factor. */
  occam: number;
  /** E = C(w0) + ½ Σ ln(λ_i/λ) − N ln 2. */
  logEvidenceRatio: number;
  perExample: number;
}

const softplus = (z: number): number => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));
const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/** Non-zero column indices of every row (MNIST rows are ~80 % zeros). */
function sparseRows(p: LogregProblem): { idx: Int32Array[]; val: Float64Array[] } {
  const idx: Int32Array[] = [];
  const val: Float64Array[] = [];
  for (let i = 0; i < p.n; i++) {
    let nnz = 0;
    for (let j = 0; j < p.d; j++) if (p.x[i * p.d + j] !== 0) nnz++;
    const ix = new Int32Array(nnz + 1);
    const vx = new Float64Array(nnz + 1);
    let k = 0;
    for (let j = 0; j < p.d; j++) {
      const v = p.x[i * p.d + j];
      if (v !== 0) {
        ix[k] = j;
        vx[k++] = v;
      }
    }
    ix[k] = p.d; // the bias input, always 1
    vx[k] = 1;
    idx.push(ix);
    val.push(vx);
  }
  return { idx, val };
}

type Rows = ReturnType<typeof sparseRows>;

function logits(rows: Rows, w: Float64Array, out: Float64Array): void {
  for (let i = 0; i < rows.idx.length; i++) {
    const ix = rows.idx[i];
    const vx = rows.val[i];
    let z = 0;
    for (let k = 0; k < ix.length; k++) z += vx[k] * w[ix[k]];
    out[i] = z;
  }
}

function summedCrossEntropy(z: Float64Array, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < z.length; i++) s += softplus(z[i]) - (y[i] === 1 ? z[i] : 0);
  return s;
}

function sumSquares(w: Float64Array): number {
  let s = 0;
  for (let i = 0; i < w.length; i++) s += w[i] * w[i];
  return s;
}

/** H = Σ s_i x̃_i x̃_iᵀ + λI, full symmetric P × P row-major. */
function hessian(rows: Rows, z: Float64Array, P: number, lambda: number): Float64Array {
  const H = new Float64Array(P * P);
  for (let i = 0; i < rows.idx.length; i++) {
    const pr = sigmoid(z[i]);
    const s = pr * (1 - pr);
    if (s === 0) continue;
    const ix = rows.idx[i];
    const vx = rows.val[i];
    for (let a = 0; a < ix.length; a++) {
      const row = ix[a] * P;
      const sa = s * vx[a];
      for (let b = 0; b <= a; b++) H[row + ix[b]] += sa * vx[b];
    }
  }
  // Lower triangle was filled (ix is increasing); mirror it and add the prior.
  for (let r = 0; r < P; r++) {
    for (let c = 0; c < r; c++) H[c * P + r] = H[r * P + c];
    H[r * P + r] += lambda;
  }
  return H;
}

/** In-place lower Cholesky factor of a symmetric positive-definite matrix; false if not PD. */
function choleskyInPlace(a: Float64Array, P: number): boolean {
  for (let j = 0; j < P; j++) {
    const rj = j * P;
    let s = a[rj + j];
    for (let k = 0; k < j; k++) s -= a[rj + k] * a[rj + k];
    if (!(s > 0)) return false;
    const d = Math.sqrt(s);
    a[rj + j] = d;
    for (let i = j + 1; i < P; i++) {
      const ri = i * P;
      let t = a[ri + j];
      for (let k = 0; k < j; k++) t -= a[ri + k] * a[rj + k];
      a[ri + j] = t / d;
    }
  }
  return true;
}

/** Solve L Lᵀ x = b with the factor from choleskyInPlace. */
function choleskySolve(L: Float64Array, P: number, b: Float64Array): Float64Array {
  const x = Float64Array.from(b);
  for (let i = 0; i < P; i++) {
    let s = x[i];
    for (let k = 0; k < i; k++) s -= L[i * P + k] * x[k];
    x[i] = s / L[i * P + i];
  }
  for (let i = P - 1; i >= 0; i--) {
    let s = x[i];
    for (let k = i + 1; k < P; k++) s -= L[k * P + i] * x[k];
    x[i] = s / L[i * P + i];
  }
  return x;
}

export interface MinimiseOptions {
  /** Stop when the Newton decrement ½·gᵀH⁻¹g (an estimate of C − C*) falls below this. */
  tolerance?: number;
  maxIterations?: number;
  /** Starting point (defaults to zeros). */
  start?: ArrayLike<number>;
}

/** Damped Newton to the minimum of C(w) = Σ CE + λ/2 |w|². */
export function minimiseLogreg(
  problem: LogregProblem,
  options: MinimiseOptions = {},
): MinimumResult & { hessian: Float64Array } {
  const { n, d, lambda, y } = problem;
  if (!(lambda > 0)) throw new Error('minimiseLogreg needs lambda > 0 (the cost has no minimum otherwise)');
  const P = d + 1;
  const tol = options.tolerance ?? 1e-10;
  const maxIt = options.maxIterations ?? 200;
  const rows = sparseRows(problem);
  const w = new Float64Array(P);
  if (options.start) for (let j = 0; j < P; j++) w[j] = options.start[j];
  const z = new Float64Array(n);
  const zTry = new Float64Array(n);
  logits(rows, w, z);
  let cost = summedCrossEntropy(z, y) + (lambda / 2) * sumSquares(w);
  let converged = false;
  let it = 0;
  let gradNorm = Infinity;
  for (; it < maxIt; it++) {
    const g = new Float64Array(P);
    for (let i = 0; i < n; i++) {
      const r = sigmoid(z[i]) - (y[i] === 1 ? 1 : 0);
      const ix = rows.idx[i];
      const vx = rows.val[i];
      for (let k = 0; k < ix.length; k++) g[ix[k]] += r * vx[k];
    }
    for (let j = 0; j < P; j++) g[j] += lambda * w[j];
    gradNorm = Math.sqrt(sumSquares(g));
    const L = hessian(rows, z, P, lambda);
    if (!choleskyInPlace(L, P)) throw new Error('Hessian not positive definite (numerical breakdown)');
    const step = choleskySolve(L, P, g);
    let decrement = 0;
    for (let j = 0; j < P; j++) decrement += g[j] * step[j];
    if (decrement / 2 < tol || gradNorm === 0) {
      converged = true;
      break;
    }
    // Armijo backtracking along −step.
    let t = 1;
    let accepted = false;
    const wTry = new Float64Array(P);
    for (let ls = 0; ls < 60; ls++) {
      for (let j = 0; j < P; j++) wTry[j] = w[j] - t * step[j];
      logits(rows, wTry, zTry);
      const c = summedCrossEntropy(zTry, y) + (lambda / 2) * sumSquares(wTry);
      if (c <= cost - 1e-4 * t * decrement) {
        w.set(wTry);
        z.set(zTry);
        cost = c;
        accepted = true;
        break;
      }
      t /= 2;
    }
    if (!accepted) {
      // No decrease representable in float64: we are at the minimum to machine precision.
      converged = decrement / 2 < 1e-6 * Math.max(1, Math.abs(cost));
      break;
    }
  }
  const H = hessian(rows, z, P, lambda);
  return {
    w,
    cost,
    crossEntropy: summedCrossEntropy(z, y),
    gradNorm,
    iterations: it,
    converged,
    hessian: H,
  };
}

/** ln det of a symmetric positive-definite matrix by Cholesky (ml-matrix): 2 Σ ln L_ii. */
export function logDetSPD(a: Float64Array, P: number): number {
  const rows: number[][] = [];
  for (let i = 0; i < P; i++) rows.push(Array.from(a.subarray(i * P, (i + 1) * P)));
  const chol = new CholeskyDecomposition(new Matrix(rows));
  if (!chol.isPositiveDefinite()) throw new Error('matrix is not positive definite');
  const L = chol.lowerTriangularMatrix;
  let s = 0;
  for (let i = 0; i < P; i++) s += Math.log(L.get(i, i));
  return 2 * s;
}

/** Minimum of C and the log evidence ratio E against the null model (n = 2 classes). */
export function logregEvidence(problem: LogregProblem, options: MinimiseOptions = {}): EvidenceResult {
  const m = minimiseLogreg(problem, options);
  const P = problem.d + 1;
  const logDetHessian = logDetSPD(m.hessian, P);
  const occam = 0.5 * (logDetHessian - P * Math.log(problem.lambda));
  const logEvidenceRatio = m.cost + occam - problem.n * Math.LN2;
  const { hessian: _h, ...rest } = m;
  return {
    ...rest,
    lambda: problem.lambda,
    logDetHessian,
    occam,
    logEvidenceRatio,
    perExample: logEvidenceRatio / problem.n,
  };
}

/** The paper's λ for a task: the engines put l2 on the mean loss, the paper on the summed one. */
export const paperLambda = (l2: number, nTrain: number): number => l2 * nTrain;

export function problemOf(train: Dataset, l2: number): LogregProblem {
  return { x: train.x, y: train.y, n: train.n, d: train.d, lambda: paperLambda(l2, train.n) };
}

/** Mean cross-entropy and accuracy of weights (layout [W; b]) on a dataset. */
export function evaluateLogreg(w: ArrayLike<number>, data: Dataset): { loss: number; accuracy: number } {
  let loss = 0;
  let correct = 0;
  const { d } = data;
  for (let i = 0; i < data.n; i++) {
    let z = w[d];
    for (let j = 0; j < d; j++) {
      const v = data.x[i * d + j];
      if (v !== 0) z += v * w[j];
    }
    const yi = data.y[i];
    loss += softplus(z) - (yi === 1 ? z : 0);
    if ((z > 0 ? 1 : 0) === yi) correct++;
  }
  return { loss: loss / data.n, accuracy: correct / data.n };
}

/**
 * The training driver's hook for logistic-regression tasks (src/engines/driver.ts): store E and E/N
 * with the result. With `steps: 0` the task is "train to the minimum": no SGD, and the result's
 * accuracies and cross-entropies are those of w0 (Figures 1–2 are about the minimum, not about SGD).
 * With steps > 0 the metrics stay those of the SGD weights and E is still that of the (unique)
 * minimum of the same cost. l2 = 0 (improper prior) stores no evidence.
 */
export function applyLogregEvidence(
  cfg: { l2: number; steps: number },
  train: Dataset,
  test: Dataset,
  result: {
    trainAccuracy: number;
    trainLoss: number;
    testAccuracy: number;
    testLoss: number;
    curve: { step: number; trainLoss: number; testLoss: number; testAccuracy: number }[];
    evidence?: { logEvidenceRatio: number; perExample: number };
  },
): void {
  if (!(cfg.l2 > 0)) return;
  const ev = logregEvidence(problemOf(train, cfg.l2));
  result.evidence = { logEvidenceRatio: ev.logEvidenceRatio, perExample: ev.perExample };
  if (cfg.steps === 0) {
    const tr = evaluateLogreg(ev.w, train);
    const te = evaluateLogreg(ev.w, test);
    result.trainAccuracy = tr.accuracy;
    result.trainLoss = tr.loss;
    result.testAccuracy = te.accuracy;
    result.testLoss = te.loss;
    result.curve = [{ step: 0, trainLoss: tr.loss, testLoss: te.loss, testAccuracy: te.accuracy }];
  }
}
