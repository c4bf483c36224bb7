/**
 * Which engines exist on this machine, and how to load them.
 *
 *  - reference: always available (plain TypeScript, ./reference).
 *  - native:    ./native/index.ts exports `loadNativeEngine(): KernelFactory | null` (null when the
 *               C++ addon is not built). Probed once when this module is first imported (top-level
 *               await), so that defaultEngine() can stay synchronous.
 *  - tfjs:      ./tfjs/index.ts exports `async loadTfjsEngine(): Promise<KernelFactory>`; imported
 *               only when asked for (it is heavy).
 * A missing module or a failing load never crashes the caller: loadEngine() rejects with a one-line
 * EngineError, and loadEngineOrFallback() returns the reference engine plus the line to print once.
 */
import { EngineError, oneLine } from '../errors.js';
import type { EngineName } from './config.js';
import { referenceEngine } from './reference/index.js';
import type { KernelFactory } from './types.js';

/**
 * Specifiers held in variables: these engines load only when asked for, so a missing or unbuilt one
 * (the addon, the optional tfjs-node) breaks neither the type check nor the import of the registry.
 */
const NATIVE_MODULE = './native/index.js';
const TFJS_MODULE = './tfjs/index.js';

function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err && (err.code === 'ERR_MODULE_NOT_FOUND' || err.code === 'MODULE_NOT_FOUND')) {
    return `module not found: ${String(err.message).split('\n')[0]}`;
  }
  return oneLine(e);
}

interface Probe {
  factory: KernelFactory | null;
  /** Why the engine is unavailable (when factory is null). */
  reason: string;
}

async function probeNative(): Promise<Probe> {
  try {
    const mod = (await import(NATIVE_MODULE)) as {
      loadNativeEngine?: () => KernelFactory | null;
      /** Optional: why loadNativeEngine() returned null. */
      nativeUnavailableReason?: () => string | null;
    };
    if (typeof mod.loadNativeEngine !== 'function')
      return { factory: null, reason: `${NATIVE_MODULE} does not export loadNativeEngine` };
    const factory = mod.loadNativeEngine();
    if (factory) return { factory, reason: '' };
    const why = typeof mod.nativeUnavailableReason === 'function' ? mod.nativeUnavailableReason() : null;
    return { factory: null, reason: why ?? 'the C++ addon is not built' };
  } catch (e) {
    return { factory: null, reason: describe(e) };
  }
}

const native: Probe = await probeNative();

/** 'native' where the native addon loads, else 'reference'. */
export function defaultEngine(): EngineName {
  return native.factory ? 'native' : 'reference';
}

/** Why `name` cannot be used here, or null when it is available (tfjs is only known after loading). */
export function engineUnavailableReason(name: EngineName): string | null {
  if (name === 'native') return native.factory ? null : native.reason;
  return null;
}

function unavailable(name: EngineName, reason: string): EngineError {
  return new EngineError(`engine "${name}" is not available on this machine (${reason})`);
}

/** The factory of an engine; rejects with a one-line EngineError when it is not available. */
export async function loadEngine(name: EngineName): Promise<KernelFactory> {
  switch (name) {
    case 'reference':
      return referenceEngine;
    case 'native':
      if (!native.factory) throw new EngineError(`engine "native" is not built on this machine (${native.reason})`);
      return native.factory;
    case 'tfjs': {
      let mod: { loadTfjsEngine?: () => Promise<KernelFactory> };
      try {
        mod = (await import(TFJS_MODULE)) as typeof mod;
      } catch (e) {
        throw unavailable('tfjs', describe(e));
      }
      if (typeof mod.loadTfjsEngine !== 'function')
        throw unavailable('tfjs', `${TFJS_MODULE} does not export loadTfjsEngine`);
      try {
        return await mod.loadTfjsEngine();
      } catch (e) {
        throw unavailable('tfjs', describe(e));
      }
    }
    default:
      throw new EngineError(`unknown engine "${String(name)}"`);
  }
}

/**
 * The engine asked for, or the reference engine with a warning to print once, e.g.
 * `engine "native" is not built on this machine (the C++ addon is not built); using reference`.
 */
export async function loadEngineOrFallback(name: EngineName): Promise<{ factory: KernelFactory; warning?: string }> {
  try {
    return { factory: await loadEngine(name) };
  } catch (e) {
    if (!(e instanceof EngineError) || name === 'reference') throw e;
    return { factory: referenceEngine, warning: `${e.message}; using reference` };
  }
}
