/**
 * Task identity: sha256 of the canonical JSON of a task's complete parameters plus its engine's version
 * tag. Canonical JSON: object keys sorted, no whitespace, numbers in JavaScript's shortest round-trip
 * form (so 0.1, 1e-1 and 0.10 in a file are all "0.1", 1.0 is "1", -0 is "0"), non-finite numbers
 * refused. The same configuration therefore has the same key in every sweep and on every machine.
 */
import crypto from 'node:crypto';
import type { EngineName, TrainConfig } from '../engines/config.js';
import { ENGINE_VERSIONS } from '../engines/versions.js';

/**
 * Number → shortest round-trip text (what JSON.stringify writes). Memoised: a sweep reuses a few
 * axis values across many tasks, and converting a double to its shortest form is the costly part.
 */
const numberText = new Map<number, string>();
function canonicalNumber(n: number): string {
  let text = numberText.get(n);
  if (text !== undefined) return text;
  if (!Number.isFinite(n)) throw new TypeError(`canonicalJson: non-finite number ${n}`);
  text = n === 0 ? '0' : String(n); // -0 → "0"
  if (numberText.size >= 100_000) numberText.clear();
  numberText.set(n, text);
  return text;
}

/**
 * Sorted keys of an object, memoised per key list (objects of the same shape, such as every task's
 * params, share one entry; the check compares the key lists element by element).
 */
const sortedKeysCache = new Map<string, { keys: string[]; sorted: string[] }>();
function sortedKeys(obj: object): string[] {
  const keys = Object.keys(obj);
  if (keys.length === 0) return keys;
  const id = `${keys.length}:${keys[0]}`;
  const hit = sortedKeysCache.get(id);
  if (hit && hit.keys.length === keys.length) {
    let same = true;
    for (let i = 0; i < keys.length; i++) {
      if (hit.keys[i] !== keys[i]) {
        same = false;
        break;
      }
    }
    if (same) return hit.sorted;
  }
  const sorted = [...keys].sort();
  if (sortedKeysCache.size >= 1_000) sortedKeysCache.clear();
  sortedKeysCache.set(id, { keys, sorted });
  return sorted;
}

/** Quoted strings, memoised: the same few parameter names and values are encoded for every task. */
const quotedKeys = new Map<string, string>();
function quoteKey(k: string): string {
  let q = quotedKeys.get(k);
  if (q === undefined) {
    q = JSON.stringify(k);
    if (quotedKeys.size < 10_000) quotedKeys.set(k, q);
  }
  return q;
}

function encode(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return canonicalNumber(value);
    case 'string':
      return quoteKey(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let s = '[';
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          if (i > 0) s += ',';
          s += item === undefined || typeof item === 'function' ? 'null' : encode(item);
        }
        return s + ']';
      }
      const obj = value as Record<string, unknown>;
      const keys = sortedKeys(obj);
      let s = '{';
      let first = true;
      for (const k of keys) {
        const v = obj[k];
        if (v === undefined || typeof v === 'function') continue;
        s += (first ? '' : ',') + quoteKey(k) + ':' + encode(v);
        first = false;
      }
      return s + '}';
    }
    default:
      throw new TypeError(`canonicalJson: cannot encode a ${typeof value}`);
  }
}

/** Deterministic JSON: sorted keys, canonical numbers, no whitespace; undefined members are omitted. */
export function canonicalJson(value: unknown): string {
  return encode(value);
}

/** One-shot crypto.hash (Node >= 20.12) is about twice as fast as createHash for short inputs. */
const oneShotHash = typeof crypto.hash === 'function' ? crypto.hash : undefined;

export function sha256Hex(text: string): string {
  if (oneShotHash) return oneShotHash('sha256', text, 'hex');
  return crypto.createHash('sha256').update(text).digest('hex');
}

/** The identity of a task: sha256 of {"engine_version": ..., "params": {...}} in canonical JSON. */
export function taskKey(params: TrainConfig): string {
  return taskIdentity(params).key;
}

/** The task's key and the canonical JSON of its parameters it was computed from (stored as is). */
export function taskIdentity(params: TrainConfig, paramsJson?: string): { key: string; paramsJson: string } {
  paramsJson ??= canonicalJson(params);
  return { key: keyOfJson(params.engine, paramsJson), paramsJson };
}

/** The key of a task of `engine` whose parameters' canonical JSON is `paramsJson` (see taskIdentity). */
export function keyOfJson(engine: EngineName, paramsJson: string): string {
  const engineVersion = ENGINE_VERSIONS[engine];
  if (engineVersion === undefined) throw new TypeError(`taskKey: unknown engine ${JSON.stringify(engine)}`);
  // = canonicalJson({ params, engine_version }) ("engine_version" sorts before "params")
  return sha256Hex(`{"engine_version":${JSON.stringify(engineVersion)},"params":${paramsJson}}`);
}

/**
 * canonicalJson of objects that have the same keys and the same values but for a few keys (the
 * points of a grid: the fixed parameters and the defaults are the same in every point, the axes and
 * the derived parameters vary): the text between two varying values is encoded once, and an object
 * costs the encoding of its varying values only.
 */
export class CanonicalShape {
  /** parts[i] comes before varying[i]'s value; the last part closes the object. */
  private readonly parts: string[] = [];
  private readonly varying: string[] = [];

  /** `sample`: one of the objects; every key not in `varying` has its value in all of them. */
  constructor(sample: object, varying: ReadonlySet<string>) {
    const obj = sample as Record<string, unknown>;
    let text = '{';
    let first = true;
    for (const k of sortedKeys(obj)) {
      const v = obj[k];
      const varies = varying.has(k);
      if (!varies && (v === undefined || typeof v === 'function')) continue; // omitted, as canonicalJson does
      text += (first ? '' : ',') + quoteKey(k) + ':';
      first = false;
      if (varies) {
        this.parts.push(text);
        this.varying.push(k);
        text = '';
      } else text += encode(v);
    }
    this.parts.push(text + '}');
  }

  /**
   * canonicalJson(obj) for an object of this shape; undefined where a varying value would be omitted
   * (undefined, a function), which changes the commas: the caller falls back to canonicalJson.
   */
  encode(obj: object): string | undefined {
    const o = obj as Record<string, unknown>;
    let s = this.parts[0];
    for (let i = 0; i < this.varying.length; i++) {
      const v = o[this.varying[i]];
      if (v === undefined || typeof v === 'function') return undefined;
      s += encode(v) + this.parts[i + 1];
    }
    return s;
  }
}

/** sha256 of a parsed sweep document: formatting, comments and key order do not change it. */
export function specHash(document: unknown): string {
  return sha256Hex(canonicalJson(document));
}
