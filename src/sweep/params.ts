/**
 * What the sweep layer needs to know about each TrainConfig parameter, read off the zod schema so it
 * can never drift from it: numeric or not, integer or not, default value.
 */
import { z } from 'zod';
import { TRAIN_PARAM_NAMES, trainConfigSchema } from '../engines/config.js';

export interface ParamInfo {
  name: string;
  /** The field's zod schema (with its default, if any). */
  schema: z.ZodType;
  numeric: boolean;
  /** Integer parameters get Math.round applied to range and derived values. */
  integer: boolean;
  hasDefault: boolean;
  defaultValue: unknown;
}

function describeParam(name: string, schema: z.ZodType): ParamInfo {
  const inner = schema instanceof z.ZodDefault ? (schema.unwrap() as z.ZodType) : schema;
  const numeric = inner instanceof z.ZodNumber;
  const integer = inner instanceof z.ZodNumber && inner.isInt === true;
  const d = schema.safeParse(undefined);
  return { name, schema, numeric, integer, hasDefault: d.success, defaultValue: d.success ? d.data : undefined };
}

const shape = trainConfigSchema.shape as unknown as Record<string, z.ZodType>;

export const PARAMS: ReadonlyMap<string, ParamInfo> = new Map(
  TRAIN_PARAM_NAMES.map((name) => [name, describeParam(name, shape[name])]),
);

export const PARAM_NAMES: readonly string[] = TRAIN_PARAM_NAMES;

/** Names of parameters with no default: a sweep must set each of them. */
export const REQUIRED_PARAMS: readonly string[] = TRAIN_PARAM_NAMES.filter((n) => !PARAMS.get(n)!.hasDefault);

/** The value `engine` may take in a sweep besides an engine name: the default engine of this machine. */
export const AUTO_ENGINE = 'auto';
