import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  collapseScore,
  estimateBopt,
  fitQuadratic,
  fitSweep,
  rng32,
  sweptParameter,
  type RunRow,
} from '../../src/analysis/fit.js';
import { boptClaims } from '../../src/analysis/claims.js';
import { priorChecks } from '../../src/analysis/prior.js';

const BATCHES = [1, 3, 10, 30, 100, 300, 1000];

/** Accuracy peaked at ln B* with curvature c, plus Gaussian noise of size `noise` per seed. */
function synthetic(bStar: (lr: number) => number, lrs: number[], seeds: number, noise: number, seed = 3): RunRow[] {
  const rand = rng32(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const rows: RunRow[] = [];
  for (const lr of lrs) {
    for (let s = 0; s < seeds; s++) {
      const offset = noise * gauss() * 0.5; // a per-seed shift shared by every B (as a data subset would be)
      for (const b of BATCHES) {
        const acc = 0.9 - 0.02 * (Math.log(b) - Math.log(bStar(lr))) ** 2 + offset + noise * gauss();
        rows.push({ lr, batch_size: b, n_train: 1000, momentum: 0.9, seed: s, test_accuracy: acc });
      }
    }
  }
  return rows;
}

describe('B_opt fits', () => {
  it('quadratic least squares recovers exact coefficients', () => {
    const c = fitQuadratic([0, 1, 2, 3], [1, 0, 1, 4])!;
    assert.ok(Math.abs(c[0] - 1) < 1e-9 && Math.abs(c[1] + 2) < 1e-9 && Math.abs(c[2] - 1) < 1e-9);
  });

  it('parabola in log B recovers B_opt exactly from noiseless data, even between grid points', () => {
    const means = BATCHES.map((b) => 0.9 - 0.02 * (Math.log(b) - Math.log(47)) ** 2);
    const e = estimateBopt(BATCHES, means);
    assert.equal(e.method, 'parabola');
    assert.ok(Math.abs(e.value - 47) < 1e-6, String(e.value));
  });

  it('a peak at the end of the grid falls back to the grid point', () => {
    const e = estimateBopt(
      BATCHES,
      BATCHES.map((b) => -b),
    );
    assert.deepEqual(e, { value: 1, method: 'grid' });
  });

  it('noisy seeds: the estimate is near the truth and the bootstrap interval contains it', () => {
    const rows = synthetic(() => 40, [1], 8, 0.004);
    const f = fitSweep(rows, { bootstrap: 500 });
    const g = f.groups[0];
    assert.equal(f.groupParam, null);
    assert.equal(g.seeds, 8);
    assert.equal(g.interiorPeak, true);
    assert.ok(g.bOpt > 20 && g.bOpt < 80, String(g.bOpt));
    assert.ok(g.bOptLo! <= 40 && 40 <= g.bOptHi!, `${g.bOptLo} ${g.bOptHi}`);
    assert.equal(g.bOptGrid, 30);
    assert.equal(g.gridLo, 10);
    assert.equal(g.gridHi, 100);
    assert.ok(Math.abs(g.gOpt - (1 * (1000 / g.bOpt - 1)) / 0.1) < 1e-9);
    assert.ok(g.gOptLo! <= g.gOpt && g.gOpt <= g.gOptHi!);
  });

  it('two seeds: the interval reflects the seed noise (covers the truth in most instances, not a point)', () => {
    // With two seeds, resampling whole seeds gives at most three distinct replicates; the parametric
    // bootstrap must give intervals that are neither degenerate nor overconfident.
    let covered = 0;
    let degenerate = 0;
    const instances = 40;
    for (let k = 0; k < instances; k++) {
      const rows = synthetic(() => 40, [0.1], 2, 0.004, 100 + k);
      const g = fitSweep(rows, { bootstrap: 400, seed: k }).groups[0];
      assert.ok(g.bOptLo !== null && g.bOptHi !== null);
      if (g.bOptLo <= 40 && 40 <= g.bOptHi) covered++;
      if (g.bOptHi / g.bOptLo < 1.05) degenerate++;
    }
    assert.ok(covered >= 0.8 * instances, `covered ${covered}/${instances}`);
    assert.equal(degenerate, 0);
  });

  it('proportional fit: exponent 1, slope k and R² = 1 on exact data; bootstrap interval contains 1', () => {
    const lrs = [0.1, 0.3, 1, 3];
    const exact = fitSweep(
      synthetic((lr) => 30 * lr, lrs, 3, 0),
      { bootstrap: 200 },
    );
    assert.equal(exact.groupParam, 'lr');
    const l = exact.line!;
    assert.equal(l.against, 'eps');
    assert.ok(Math.abs(l.exponent - 1) < 1e-6, String(l.exponent));
    assert.ok(Math.abs(l.slope - 30) < 1e-4);
    assert.ok(Math.abs(l.r2 - 1) < 1e-9);
    assert.ok(Math.abs(l.spearman - 1) < 1e-12);
    assert.ok(exact.gOptCv! < 0.1); // g = eps(N/B − 1)/(1 − m) ≈ constant
    const noisy = fitSweep(
      synthetic((lr) => 30 * lr, lrs, 6, 0.003, 9),
      { bootstrap: 300 },
    ).line!;
    assert.ok(
      noisy.exponentBootLo! <= 1 && 1 <= noisy.exponentBootHi!,
      `${noisy.exponentBootLo} ${noisy.exponentBootHi}`,
    );
    assert.ok(noisy.exponentLo! < noisy.exponent && noisy.exponent < noisy.exponentHi!);
  });

  it('a group whose best B is an end of its range is left out of a second proportionality claim', () => {
    const rows = synthetic((lr) => (lr < 2 ? 100 * lr : 20000), [0.1, 0.3, 1, 3], 3, 0.001);
    const fit = fitSweep(rows, { bootstrap: 200 });
    assert.deepEqual(
      fit.groups.map((g) => g.interiorPeak),
      [true, true, true, false],
    );
    const claims = boptClaims(rows, fit);
    const all = claims.find((c) => c.claim === 'B_opt proportional to eps (log-log exponent 1)')!;
    const interior = claims.find((c) => c.claim.includes('over the 3 groups with an interior peak (without lr = 3)'))!;
    assert.ok(all && interior, claims.map((c) => c.claim).join('\n'));
    const exponent = (evidence: string) => Number(/^exponent (\S+),/.exec(evidence)![1]);
    assert.ok(Math.abs(exponent(interior.evidence) - 1) < 0.1, interior.evidence);
    assert.ok(Math.abs(exponent(all.evidence) - 1) > 0.2, all.evidence); // the end point bends the exponent
    // All peaks interior: no second claim.
    const inside = synthetic((lr) => 100 * lr, [0.1, 0.3, 1], 3, 0.001);
    assert.ok(
      !boptClaims(inside, fitSweep(inside, { bootstrap: 200 })).some((c) => c.claim.includes('interior peak (without')),
    );
  });

  it('says when the batch size below the peak has not fitted the training set (an under-trained flank)', () => {
    const rows = synthetic(() => 30, [0.1], 3, 0.001).map((r) => ({
      ...r,
      steps: 1000,
      train_accuracy: r.batch_size < 30 ? 0.99 : 1,
    }));
    const interiorClaim = (list: RunRow[]): string =>
      boptClaims(list, fitSweep(list, { bootstrap: 0 })).find((c) => c.claim.includes('interior peak'))!.evidence;
    assert.match(
      interiorClaim(rows),
      /B = 10 below it has not fitted the training set \(train accuracy 0\.99, 10 epochs\)/,
    );
    const fitted = rows.map((r) => ({ ...r, train_accuracy: 1 }));
    assert.doesNotMatch(interiorClaim(fitted), /not fitted/);
    // Without train accuracies (older databases, other engines) nothing is claimed.
    assert.doesNotMatch(interiorClaim(rows.map((r) => ({ ...r, train_accuracy: null }))), /not fitted/);
  });

  it('theory prior: B_opt proportional to eps is predicted exactly; a flat B_opt is predicted too high', () => {
    const lrs = [0.1, 0.3, 1, 3];
    // B_opt = 10 eps lands on the grid points 1, 3, 10, 30
    const exact = priorChecks(
      fitSweep(
        synthetic((lr) => 10 * lr, lrs, 2, 0),
        { bootstrap: 0 },
      ),
    );
    assert.deepEqual(
      exact.map((c) => c.groupValue),
      [1, 3],
    );
    for (const c of exact) assert.ok(Math.abs(c.ratio - 1) < 1e-9, JSON.stringify(c));
    const flat = priorChecks(
      fitSweep(
        synthetic(() => 10, lrs, 2, 0),
        { bootstrap: 0 },
      ),
    );
    assert.ok(
      flat.every((c) => c.ratio < 0.5),
      JSON.stringify(flat),
    );
  });

  it('groups by N and by momentum, fitted against N and 1/(1−m)', () => {
    const rows: RunRow[] = [];
    for (const m of [0, 0.5, 0.9]) {
      for (const b of BATCHES)
        rows.push({
          lr: 1,
          batch_size: b,
          n_train: 1000,
          momentum: m,
          seed: 0,
          test_accuracy: -((Math.log(b) - Math.log(5 / (1 - m))) ** 2),
        });
    }
    const f = fitSweep(rows, { bootstrap: 0 });
    assert.equal(f.groupParam, 'momentum');
    assert.equal(f.line!.against, '1/(1-m)');
    assert.ok(Math.abs(f.line!.exponent - 1) < 1e-6);
    assert.equal(f.groups[0].bOptLo, null); // one seed: no bootstrap
    assert.throws(() => sweptParameter([...rows, { ...rows[0], lr: 2 }]), /more than one/);
  });

  it('collapse: accuracy that depends on g only is explained better by ln g than by ln B', () => {
    const rows: RunRow[] = [];
    for (const lr of [0.1, 1, 10]) {
      for (const b of [1, 3, 10, 30, 100, 300]) {
        const g = (lr * (1000 / b - 1)) / 0.1;
        rows.push({
          lr,
          batch_size: b,
          n_train: 1000,
          momentum: 0.9,
          seed: 0,
          test_accuracy: 0.9 - 0.01 * (Math.log(g) - 6) ** 2,
        });
      }
    }
    const c = collapseScore(rows)!;
    assert.ok(c.r2NoiseScale > 0.99 && c.r2BatchSize < c.r2NoiseScale, JSON.stringify(c));
  });
});
