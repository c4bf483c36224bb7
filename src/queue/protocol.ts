/**
 * What a BullMQ job carries between a coordinator and `bopt worker` processes: the TrainJob, and the
 * versions it must be trained with. The job id is the task key, so a task is never queued twice.
 */
import { createHash } from 'node:crypto';
import type { JobOutcome, TrainJob } from '../pool/protocol.js';
import { ENGINE_VERSIONS } from '../engines/versions.js';

/** BullMQ job name (one kind of job per queue). */
export const JOB_NAME = 'train';

export interface QueueJobData {
  /** Format of this object; a worker refuses a format it does not know. */
  format: 1;
  job: TrainJob;
  /** bopt version of the coordinator that queued it. */
  boptVersion: string;
  /** Version tag of the task's engine on the coordinator (ENGINE_VERSIONS). */
  engineVersion: string;
  /** For people reading the queue: who queued it. */
  sweep: string;
  origin: string;
}

/** The job's return value: a JobOutcome whose non-finite numbers survived JSON (see encodeNonFinite). */
export type QueueJobResult = unknown;

export interface LocalVersions {
  boptVersion: string;
  engineVersions: Readonly<Record<string, string>>;
}

export const localVersions = (boptVersion: string): LocalVersions => ({ boptVersion, engineVersions: ENGINE_VERSIONS });

/**
 * Jobs are routed by version: a coordinator queues into, and a worker takes from, the BullMQ queue
 * `<name>.<tag>`, the tag a hash of the bopt version and every engine's version tag. A worker of
 * another version never sees the jobs (so it never refuses one, and no task fails for it); the
 * workers' registry (below) lets the coordinator say which workers cannot take its jobs.
 */
export function compatibilityTag(local: LocalVersions): string {
  const engines = Object.entries(local.engineVersions).sort(([a], [b]) => a.localeCompare(b));
  return createHash('sha256')
    .update(JSON.stringify({ bopt: local.boptVersion, engines }))
    .digest('hex')
    .slice(0, 12);
}

/** The BullMQ queue that jobs of these versions go through. */
export const routedQueueName = (name: string, local: LocalVersions): string => `${name}.${compatibilityTag(local)}`;

/** What a worker process says about itself in the registry hash, refreshed every REGISTRY_BEAT_MS. */
export interface WorkerRecord {
  boptVersion: string;
  engineVersions: Record<string, string>;
  tag: string;
  /** Jobs it trains at once. */
  threads: number;
  /** When it last refreshed this record (ms since the epoch). */
  seen: number;
}

export const REGISTRY_BEAT_MS = 5_000;
/** A record older than this is a worker that is gone (killed without removing it). */
export const REGISTRY_STALE_MS = 3 * REGISTRY_BEAT_MS;

/** The Redis hash of the workers of a queue name, whatever their version: field = worker name. */
export const registryKey = (prefix: string, name: string): string => `${prefix}:${name}:workers`;

/** A registry value, or null when it is not a record this bopt can read. */
export function parseWorkerRecord(text: string): WorkerRecord | null {
  try {
    const r = JSON.parse(text) as Partial<WorkerRecord>;
    if (typeof r.boptVersion !== 'string' || typeof r.tag !== 'string' || typeof r.seen !== 'number') return null;
    return {
      boptVersion: r.boptVersion,
      engineVersions: r.engineVersions ?? {},
      tag: r.tag,
      threads: typeof r.threads === 'number' ? r.threads : 1,
      seen: r.seen,
    };
  } catch {
    return null;
  }
}

/**
 * Why this worker must not train the job, or null. One line naming both sides' versions, stored as
 * the task's error by the coordinator.
 */
export function versionRefusal(
  data: Partial<QueueJobData> | undefined,
  local: LocalVersions,
  worker: string,
): string | null {
  if (!data || data.format !== 1 || !data.job || typeof data.job.key !== 'string') {
    return (
      `worker ${worker} (bopt ${local.boptVersion}) cannot read this job: unknown job format ${JSON.stringify(data?.format)}; ` +
      'run the coordinator and the workers with the same bopt version'
    );
  }
  const engine = data.job.params?.engine as string | undefined;
  const mine = engine === undefined ? undefined : local.engineVersions[engine];
  if (data.boptVersion === local.boptVersion && data.engineVersion === mine) return null;
  return (
    `version mismatch: the coordinator runs bopt ${data.boptVersion} with engine ${engine} ${data.engineVersion}, ` +
    `worker ${worker} runs bopt ${local.boptVersion} with ${mine === undefined ? `no engine ${engine}` : `engine ${engine} ${mine}`}; ` +
    'start workers of the same version as the coordinator'
  );
}

const NON_FINITE = '$nonFinite';

/** JSON turns NaN and ±Infinity into null: carry them as {"$nonFinite": "NaN"} instead. */
export function encodeNonFinite(value: unknown): unknown {
  if (typeof value === 'number') return Number.isFinite(value) ? value : { [NON_FINITE]: String(value) };
  if (Array.isArray(value)) return value.map(encodeNonFinite);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = encodeNonFinite(v);
    return out;
  }
  return value;
}

export function decodeNonFinite(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeNonFinite);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 1 && entries[0]![0] === NON_FINITE) return Number(entries[0]![1]);
    const out: Record<string, unknown> = {};
    for (const [k, v] of entries) out[k] = decodeNonFinite(v);
    return out;
  }
  return value;
}

/** A job's return value back into a JobOutcome, or an error saying what is wrong with it. */
export function decodeOutcome(returnvalue: unknown, key: string): JobOutcome {
  const outcome = decodeNonFinite(returnvalue) as Partial<JobOutcome> | null;
  if (
    !outcome ||
    typeof outcome !== 'object' ||
    typeof outcome.worker !== 'string' ||
    !outcome.result ||
    !Array.isArray(outcome.result.curve)
  ) {
    throw new Error(`job ${key} completed without a readable result (${JSON.stringify(returnvalue)?.slice(0, 120)})`);
  }
  return outcome as JobOutcome;
}
