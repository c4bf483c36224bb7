/**
 * Sweep files → validated, deterministic lists of tasks. See README-style notes in schema.ts (file
 * format), expand.ts (order, dedup), identity.ts (task keys) and expression.ts (derived parameters).
 */
export { loadSweep, parseSweep, parseSweepText, parseSweepDocument, displayPath } from './load.js';
export {
  validateSweep,
  rangeValues,
  MAX_SWEEP_POINTS,
  MAX_AXIS_VALUES,
  SWEEP_KEYS,
  type SweepSpec,
  type Axis,
  type DerivedParam,
  type Scalar,
} from './schema.js';
export { expandSweep, streamTasks, checkPoints, varyingParams, type ExpandOptions } from './expand.js';
export { GridSweep, sweepTasks, sweepEngines, withTasks } from './grid.js';
export { canonicalJson, sha256Hex, specHash, taskKey } from './identity.js';
export { compileExpression, ExpressionError, FUNCTIONS, CONSTANTS, type CompiledExpression } from './expression.js';
export { PARAMS, AUTO_ENGINE, type ParamInfo } from './params.js';
export type { ExpandedTask, LoadedSweep } from './types.js';
export { longTaskWarning, LONG_TASK_EXAMPLES } from './warnings.js';
