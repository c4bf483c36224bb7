import { engineUnavailableReason } from '../engines/registry.js';
import { sweepEngines } from '../sweep/grid.js';
import type { LoadedSweep } from '../sweep/types.js';

/** One clear line when tasks fall back to the reference engine because the native addon is not built. */
export function engineNotice(sweep: LoadedSweep): string | null {
  if (!sweepEngines(sweep).includes('reference')) return null;
  const reason = engineUnavailableReason('native');
  return reason
    ? `bopt: note: the native engine is not available (${reason}); training with the reference engine`
    : null;
}
