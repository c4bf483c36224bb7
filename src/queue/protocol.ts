/**
 * What a BullMQ job carries between a coordinator and `bopt worker` processes: the TrainJob, and the
 * versions it must be trained with. The job id is the task key, so a task is never queued twice.
 */
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
