/**
 * bopt fit / plot / report on a hand-made database: tasks registered through SweepStore with
 * synthetic results whose true B_opt is known (B* = 100 · lr, i.e. exponent 1), and a small
 * logistic-regression evidence sweep.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { fitCommand, plotCommand, reportCommand } from '../../src/cli/commands/science.js';
import { SweepStore } from '../../src/storage/store.js';
import { fakeResult, tempDir, tinySweep } from '../helpers/fixtures.js';

const BATCHES = [1, 3, 10, 30, 100, 300, 1000];
const LRS = [0.1, 0.3, 1];

describe('science commands', () => {
  const { dir, cleanup } = tempDir();
  const db = join(dir, 's.sqlite');

  before(() => {
    const store = SweepStore.open(db);
    try {
      const tasks = LRS.flatMap((lr) =>
        BATCHES.flatMap(
          (b) => tinySweep('eps', [0, 1, 2], { lr, batch_size: b, n_train: 2000, momentum: 0.9, steps: 5 }).tasks,
        ),
      );
      store.registerSweep({ ...tinySweep('eps', []), tasks }, 't');
      for (const t of tasks) {
        const { lr, batch_size: b, seed } = t.params;
        const acc =
          0.9 - 0.03 * (Math.log(b) - Math.log(100 * lr)) ** 2 + 0.002 * (seed - 1) + 0.001 * Math.sin(b * seed);
        store.claimTask(t.key, 'h');
        store.completeTask(t.key, fakeResult({ testAccuracy: acc }), 'x');
      }
      const logreg = ['true', 'random'].flatMap((labels) =>
        [0.001, 0.01, 0.1, 1].flatMap(
          (l2) =>
            tinySweep('ev', [0, 1], {
              model: 'logreg',
              dataset: 'synthetic',
              n_train: 200,
              l2,
              steps: 0,
              labels: labels as 'true' | 'random',
            }).tasks,
        ),
      );
      store.registerSweep({ ...tinySweep('ev', []), tasks: logreg }, 't');
      for (const t of logreg) {
        const { l2, labels } = t.params;
        const x = Math.log10(l2) + 2; // minimum of E and test CE at l2 = 0.01
        const e = labels === 'true' ? -0.1 + 0.05 * x * x : 0.3 - 0.05 * x;
        store.claimTask(t.key, 'h');
        store.completeTask(
          t.key,
          fakeResult({
            trainAccuracy: labels === 'random' && l2 < 0.005 ? 1 : 0.9,
            testAccuracy: labels === 'random' ? 0.5 : 0.8,
            testLoss: 0.6 + (labels === 'true' ? 0.1 * x * x : -0.05 * x),
            evidence: { logEvidenceRatio: 200 * e, perExample: e },
          }),
          'x',
        );
      }
    } finally {
      store.close();
    }
  });
  after(cleanup);

  it('fit: finds B_opt ~ 100 lr, exponent ~ 1, stores the fit for bopt query', () => {
    const out = fitCommand('eps', { db, format: 'json', bootstrap: 200 });
    const j = JSON.parse(out) as { fit: { groups: { bOpt: number }[]; line: { exponent: number } } };
    assert.equal(j.fit.groups.length, 3);
    j.fit.groups.forEach((g, i) => assert.ok(Math.abs(Math.log(g.bOpt / (100 * LRS[i]!))) < 0.3, `${g.bOpt}`));
    assert.ok(Math.abs(j.fit.line.exponent - 1) < 0.1, String(j.fit.line.exponent));
    const table = fitCommand('eps', { db, format: 'table', bootstrap: 100 });
    assert.match(table, /Line fit of B_opt against eps/);
    assert.match(table, /HOLDS.*interior peak/);
    const conn = new Database(db, { readonly: true });
    try {
      assert.equal((conn.prepare("SELECT count(*) AS n FROM fits WHERE sweep = 'eps'").get() as { n: number }).n, 3);
      assert.equal(
        (conn.prepare("SELECT count(*) AS n FROM fit_points WHERE sweep = 'eps'").get() as { n: number }).n,
        21,
      );
      const l = conn.prepare("SELECT against, exponent FROM fit_lines WHERE sweep = 'eps'").get() as {
        against: string;
        exponent: number;
      };
      assert.equal(l.against, 'eps');
    } finally {
      conn.close();
    }
  });

  it('fit: logistic-regression sweeps give the evidence table and its verdicts', () => {
    const out = fitCommand('ev', { db, format: 'table' });
    assert.match(out, /\| synthetic \| random \|/);
    assert.match(out, /HOLDS.*random labels E > 0 at every lambda/);
    assert.match(out, /HOLDS.*true labels E < 0 at some lambda/);
    assert.match(out, /HOLDS.*true labels: argmin E within one grid step/);
  });

  it('plot: SVG with the expected marks, PNG with the PNG signature, automatic kinds', async () => {
    const svgFile = join(dir, 'acc.svg');
    await plotCommand('eps', { db, out: svgFile, kind: 'accuracy' });
    const svg = readFileSync(svgFile, 'utf8');
    assert.match(svg, /^<svg/);
    assert.match(svg, /mark-line/);
    assert.match(svg, /batch size B/);
    const pngFile = join(dir, 'bopt.png');
    await plotCommand('eps', { db, out: pngFile, kind: 'bopt' });
    assert.deepEqual([...readFileSync(pngFile).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const listed = await plotCommand('ev', { db, out: join(dir, 'plots') });
    assert.match(listed, /ev-evidence\.png/);
    await assert.rejects(plotCommand('ev', { db, out: join(dir, 'x.svg'), kind: 'bopt' }), /does not apply/);
  });

  it('report: Markdown with figures, tables and verdict lines', async () => {
    const out = join(dir, 'report');
    await reportCommand(['eps', 'ev'], { db, out });
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    assert.match(md, /!\[eps-accuracy\.png\]/);
    assert.match(md, /- \*\*HOLDS\*\* — B_opt increases with eps/);
    assert.match(md, /B_opt proportional to eps/);
    assert.match(md, /\| B \| test accuracy/);
  });
});
