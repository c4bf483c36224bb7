/**
 * How far the theory's prior was from the B_opt found: for each group after the first two, the
 * prediction an adaptive search starts from (B = eps N / (g_opt (1 - m)), g_opt from the groups
 * before it, see src/search/policy.ts) against the group's best batch size.
 */
import { predictBopt, priorGroups } from '../search/policy.js';
import type { SweepFit } from './fit.js';

export interface PriorCheck {
  groupValue: number | null;
  predicted: number;
  found: number;
  /** found / predicted: 1 when the theory was exact. */
  ratio: number;
}

export function priorChecks(fit: SweepFit): PriorCheck[] {
  const optimum = (g: SweepFit['groups'][number]) => ({
    lr: g.lr,
    nTrain: g.n_train,
    momentum: g.momentum,
    bopt: g.bOptGrid,
  });
  const out: PriorCheck[] = [];
  fit.groups.forEach((g, j) => {
    const before = fit.groups.slice(0, priorGroups(j)).map(optimum);
    const p = before.length >= 2 ? predictBopt(before, optimum(g)) : null;
    if (p) out.push({ groupValue: g.groupValue, predicted: p.bopt, found: g.bOptGrid, ratio: g.bOptGrid / p.bopt });
  });
  return out;
}
