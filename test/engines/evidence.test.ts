import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import {
  evaluateLogreg,
  logDetSPD,
  logregEvidence,
  minimiseLogreg,
  type LogregProblem,
} from '../../src/engines/evidence.js';

/** Small deterministic problem: n examples, d features, labels from a noisy linear rule. */
function problem(n: number, d: number, lambda: number, seed = 1): LogregProblem {
  let s = seed;
  const rnd = (): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const x = new Float64Array(n * d);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < d; j++) {
      const v = rnd() * 2 - 1;
      x[i * d + j] = j === 1 && rnd() < 0.3 ? 0 : v; // some zeros exercise the sparse path
      sum += x[i * d + j];
    }
    y[i] = sum + 0.5 * (rnd() - 0.5) > 0 ? 1 : 0;
  }
  return { x, y, n, d, lambda };
}

/** C(w) written the naive way, for finite differences. */
function cost(p: LogregProblem, w: ArrayLike<number>): number {
  let c = 0;
  for (let i = 0; i < p.n; i++) {
    let z = w[p.d];
    for (let j = 0; j < p.d; j++) z += p.x[i * p.d + j] * w[j];
    const pr = 1 / (1 + Math.exp(-z));
    c -= p.y[i] === 1 ? Math.log(pr) : Math.log(1 - pr);
  }
  let sq = 0;
  for (let j = 0; j <= p.d; j++) sq += w[j] * w[j];
  return c + (p.lambda / 2) * sq;
}

describe('logistic-regression evidence', () => {
  it('Newton reaches a stationary point of C (finite-difference gradient ≈ 0)', () => {
    const p = problem(40, 3, 0.5);
    const m = minimiseLogreg(p);
    assert.ok(m.converged);
    assert.ok(Math.abs(m.cost - cost(p, m.w)) < 1e-9);
    for (let j = 0; j <= p.d; j++) {
      const h = 1e-5;
      const a = Array.from(m.w);
      const b = Array.from(m.w);
      a[j] += h;
      b[j] -= h;
      assert.ok(Math.abs((cost(p, a) - cost(p, b)) / (2 * h)) < 1e-6);
    }
  });

  it('E matches a brute-force Laplace evidence (finite-difference Hessian, eigenvalues)', () => {
    const p = problem(30, 2, 0.3);
    const ev = logregEvidence(p);
    const P = p.d + 1;
    const w0 = Array.from(ev.w);
    const h = 1e-4;
    const H = Matrix.zeros(P, P);
    for (let a = 0; a < P; a++) {
      for (let b = 0; b < P; b++) {
        const f = (da: number, db: number): number => {
          const w = w0.slice();
          w[a] += da;
          w[b] += db;
          return cost(p, w);
        };
        H.set(a, b, (f(h, h) - f(h, -h) - f(-h, h) + f(-h, -h)) / (4 * h * h));
      }
    }
    const eig = new EigenvalueDecomposition(H, { assumeSymmetric: true }).realEigenvalues;
    const occam = 0.5 * eig.reduce((s, l) => s + Math.log(l / p.lambda), 0);
    const E = cost(p, w0) + occam - p.n * Math.LN2;
    assert.ok(Math.abs(ev.occam - occam) < 1e-5, `${ev.occam} vs ${occam}`);
    assert.ok(Math.abs(ev.logEvidenceRatio - E) < 1e-5);
    assert.ok(Math.abs(ev.perExample - E / p.n) < 1e-7);
  });

  it('analytic case: no data, the evidence ratio is 0 (posterior = prior, null model = nothing)', () => {
    // With n = 0, C(w0) = 0 at w0 = 0, H = λI so the Occam factor vanishes, and −N ln 2 = 0.
    const ev = logregEvidence({ x: new Float64Array(0), y: new Int32Array(0), n: 0, d: 2, lambda: 2 });
    assert.ok(Math.abs(ev.logEvidenceRatio) < 1e-12);
  });

  it('analytic case: one feature that is always 0 and labels half/half gives b0 = 0 and E = ½ ln(1 + N/(4λ))', () => {
    // x = 0 everywhere: only the bias matters; balanced labels put the minimum at b = 0 where
    // C = N ln 2, the bias curvature is N/4 + λ, the weight curvature λ.
    const n = 10;
    const lambda = 0.7;
    const y = Int32Array.from({ length: n }, (_, i) => i % 2);
    const ev = logregEvidence({ x: new Float64Array(n), y, n, d: 1, lambda });
    assert.ok(Math.abs(ev.w[1]) < 1e-9);
    assert.ok(Math.abs(ev.logEvidenceRatio - 0.5 * Math.log(1 + n / (4 * lambda))) < 1e-10);
  });

  it('log det by Cholesky equals the sum of log eigenvalues', () => {
    const A = Matrix.rand(6, 6);
    const S = A.mmul(A.transpose()).add(Matrix.eye(6).mul(0.5));
    const eig = new EigenvalueDecomposition(S, { assumeSymmetric: true }).realEigenvalues;
    const flat = Float64Array.from(S.to1DArray());
    assert.ok(Math.abs(logDetSPD(flat, 6) - eig.reduce((s, l) => s + Math.log(l), 0)) < 1e-9);
  });

  it('random labels: memorised at small λ, E > 0; true labels: E < 0 somewhere', () => {
    const n = 60;
    const d = 40;
    const base = problem(n, d, 1);
    let s = 7;
    const yr = Int32Array.from({ length: n }, () => ((s = (s * 69069 + 1) % 4294967296) / 4294967296 < 0.5 ? 0 : 1));
    const rand = { ...base, y: yr };
    const small = logregEvidence({ ...rand, lambda: 1e-3 });
    const acc = evaluateLogreg(small.w, { x: Float32Array.from(base.x), y: yr, n, d, classes: 2 }).accuracy;
    assert.equal(acc, 1);
    for (const lambda of [1e-3, 1e-1, 1, 10, 100]) assert.ok(logregEvidence({ ...rand, lambda }).logEvidenceRatio > 0);
    const trueE = [1e-1, 1, 10].map((lambda) => logregEvidence({ ...base, lambda }).logEvidenceRatio);
    assert.ok(Math.min(...trueE) < 0, trueE.join(','));
  });
});
