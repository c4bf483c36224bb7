/**
 * Loading TensorFlow.js, once per thread (each worker thread has its own module instance and so its
 * own backend):
 *
 *  1. @tensorflow/tfjs-node (an optionalDependency: its install downloads libtensorflow and may fail,
 *     in which case npm drops it and carries on). Backend "tensorflow", recorded as "tfjs-node".
 *  2. else @tensorflow/tfjs with @tensorflow/tfjs-backend-wasm, the .wasm binaries read from the
 *     package's dist/ folder on disk. Recorded as "tfjs-wasm". In Node the wasm backend reports no
 *     multithread support, so it picks the non-threaded (SIMD where available) binary: one thread
 *     per task, the worker pool does the parallelism. We still pin the flag and the thread count.
 *  3. else the pure-JavaScript "cpu" backend of @tensorflow/tfjs, recorded as "tfjs-cpu".
 *
 * BOPT_TFJS_BACKEND=node|wasm|cpu forces one (tests and benchmarks); a forced backend that cannot be
 * initialised is an error, not a silent fallback.
 */
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { oneLine } from '../../errors.js';

export type Tf = typeof import('@tensorflow/tfjs');
export type TfjsBackendName = 'tfjs-node' | 'tfjs-wasm' | 'tfjs-cpu';

export interface LoadedTf {
  tf: Tf;
  backend: TfjsBackendName;
  /** Why the preferred backends were not used (empty when tfjs-node loaded). */
  notes: string[];
}

/** Held in variables: tfjs-node is usually not installed, and must not break the type check. */
const TFJS_NODE = '@tensorflow/tfjs-node';
const TFJS = '@tensorflow/tfjs';
const TFJS_WASM = '@tensorflow/tfjs-backend-wasm';

type WasmModule = typeof import('@tensorflow/tfjs-backend-wasm');

/** The folder of the wasm binaries, with a trailing separator (tfjs concatenates prefix + file name). */
export function wasmBinaryFolder(): string {
  // Resolved from this file, so it works from src/ (tsx) and from dist/ (tsc) alike.
  const pkg = createRequire(import.meta.url).resolve(`${TFJS_WASM}/package.json`);
  return join(dirname(pkg), 'dist') + sep;
}

function quiet(tf: Tf): void {
  // PROD only silences tfjs' console warnings (e.g. the "install tfjs-node" banner of the cpu backend).
  tf.env().set('PROD', true);
}

/** An ESM namespace of a CommonJS module: the named exports, or failing that its default export. */
function namespace(mod: unknown): Tf {
  const m = mod as Partial<Tf> & { default?: Tf };
  if (typeof m.tensor === 'function') return m as Tf;
  if (m.default && typeof m.default.tensor === 'function') return m.default;
  throw new Error('the module does not look like TensorFlow.js');
}

async function tryNode(): Promise<Tf> {
  const tf = namespace(await import(TFJS_NODE));
  quiet(tf);
  // Importing tfjs-node registers the "tensorflow" backend with the highest priority.
  if (tf.getBackend() !== 'tensorflow') {
    const ok = await tf.setBackend('tensorflow');
    if (!ok) throw new Error('the "tensorflow" backend did not initialise');
  }
  await tf.ready();
  return tf;
}

async function tryWasm(tf: Tf): Promise<void> {
  const wasm = (await import(TFJS_WASM)) as WasmModule;
  // Never the threaded binary: one thread per task. (Node already reports false; be explicit.)
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  wasm.setThreadsCount(1);
  wasm.setWasmPaths(wasmBinaryFolder());
  const ok = await tf.setBackend('wasm');
  if (!ok) throw new Error('the wasm backend did not initialise');
  await tf.ready();
  if (tf.getBackend() !== 'wasm') throw new Error(`backend is "${tf.getBackend()}", not wasm`);
}

async function tryCpu(tf: Tf): Promise<void> {
  const ok = await tf.setBackend('cpu');
  if (!ok) throw new Error('the cpu backend did not initialise');
  await tf.ready();
}

async function load(): Promise<LoadedTf> {
  const forced = process.env.BOPT_TFJS_BACKEND?.trim().toLowerCase() || '';
  if (forced && !['node', 'wasm', 'cpu'].includes(forced)) {
    throw new Error(`BOPT_TFJS_BACKEND must be node, wasm or cpu, not "${forced}"`);
  }
  const notes: string[] = [];
  if (!forced || forced === 'node') {
    try {
      return { tf: await tryNode(), backend: 'tfjs-node', notes };
    } catch (e) {
      if (forced) throw new Error(`tfjs-node: ${oneLine(e)}`, { cause: e });
      notes.push(`tfjs-node: ${oneLine(e)}`);
    }
  }
  const tf = namespace(await import(TFJS));
  quiet(tf);
  if (!forced || forced === 'wasm') {
    try {
      await tryWasm(tf);
      return { tf, backend: 'tfjs-wasm', notes };
    } catch (e) {
      if (forced) throw new Error(`tfjs-wasm: ${oneLine(e)}`, { cause: e });
      notes.push(`tfjs-wasm: ${oneLine(e)}`);
    }
  }
  await tryCpu(tf);
  return { tf, backend: 'tfjs-cpu', notes };
}

let loading: Promise<LoadedTf> | undefined;

/** TensorFlow.js with the best backend available here; the same promise on every call in a thread. */
export function loadTf(): Promise<LoadedTf> {
  if (!loading) {
    loading = load();
    // A failed load may be retried (e.g. after fixing BOPT_TFJS_BACKEND).
    loading.catch(() => {
      loading = undefined;
    });
  }
  return loading;
}
