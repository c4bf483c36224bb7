import type { EngineName } from './config.js';

/**
 * Version tag of each engine, part of every task identity: bump an engine's tag whenever a change
 * would alter its numbers, so old results are never mixed with new ones.
 */
export const ENGINE_VERSIONS: Readonly<Record<EngineName, string>> = {
  reference: 'reference-1',
  native: 'native-1',
  tfjs: 'tfjs-1',
};
