/**
 * The variable a B_opt sweep varies besides the batch size and the seed (paper §3-§5): the learning
 * rate eps, the training set size N or the momentum m. Its names and the regressor x that theory
 * makes B_opt proportional to (eps, N, 1/(1-m)) live here only: the fits, the plots, the reports and
 * the live science panel all read them from this module.
 */
export type SweptVariable = 'lr' | 'n_train' | 'momentum';

export const SWEPT_VARIABLES: readonly SweptVariable[] = ['lr', 'n_train', 'momentum'];

/** The paper's symbol of each variable: "eps=0.1", "N=1000", "m=0.9". */
export const SYMBOL: Record<SweptVariable, string> = { lr: 'eps', n_train: 'N', momentum: 'm' };

/** What B_opt is fitted against, for each swept variable: x as written, and x from the variable's value. */
export const AGAINST: Record<SweptVariable, { name: string; x: (value: number) => number }> = {
  lr: { name: 'eps', x: (v) => v },
  n_train: { name: 'N', x: (v) => v },
  momentum: { name: '1/(1-m)', x: (v) => 1 / (1 - v) },
};
