/**
 * Reader for the uncompressed IDX files of MNIST (big-endian header, then unsigned bytes):
 *  - images: magic 2051, count, rows, cols, then count·rows·cols pixels
 *  - labels: magic 2049, count, then count labels
 */
import { readFileSync } from 'node:fs';

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  /** count × rows·cols pixels, row-major, 0..255. */
  pixels: Uint8Array;
}

export const IDX_IMAGES_MAGIC = 2051;
export const IDX_LABELS_MAGIC = 2049;

function readBytes(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new Error(`cannot read MNIST file ${file} (${code})`, { cause: e });
  }
}

function u32(buf: Uint8Array, at: number): number {
  return ((buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]) >>> 0;
}

/** Parse an IDX image file already in memory; `file` names it in errors. */
export function parseIdxImages(buf: Uint8Array, file: string): IdxImages {
  if (buf.length < 16)
    throw new Error(`corrupt MNIST image file ${file}: ${buf.length} bytes, shorter than its header`);
  const magic = u32(buf, 0);
  if (magic !== IDX_IMAGES_MAGIC) {
    throw new Error(`corrupt MNIST image file ${file}: magic number ${magic}, expected ${IDX_IMAGES_MAGIC}`);
  }
  const count = u32(buf, 4);
  const rows = u32(buf, 8);
  const cols = u32(buf, 12);
  const need = 16 + count * rows * cols;
  if (buf.length < need) {
    throw new Error(
      `corrupt MNIST image file ${file}: ${buf.length} bytes, header promises ${need} (${count} images ${rows}×${cols})`,
    );
  }
  return { count, rows, cols, pixels: buf.subarray(16, need) };
}

/** Parse an IDX label file already in memory; `file` names it in errors. */
export function parseIdxLabels(buf: Uint8Array, file: string): Uint8Array {
  if (buf.length < 8) throw new Error(`corrupt MNIST label file ${file}: ${buf.length} bytes, shorter than its header`);
  const magic = u32(buf, 0);
  if (magic !== IDX_LABELS_MAGIC) {
    throw new Error(`corrupt MNIST label file ${file}: magic number ${magic}, expected ${IDX_LABELS_MAGIC}`);
  }
  const count = u32(buf, 4);
  if (buf.length < 8 + count) {
    throw new Error(
      `corrupt MNIST label file ${file}: ${buf.length} bytes, header promises ${8 + count} (${count} labels)`,
    );
  }
  return buf.subarray(8, 8 + count);
}

export function readIdxImages(file: string): IdxImages {
  return parseIdxImages(readBytes(file), file);
}

export function readIdxLabels(file: string): Uint8Array {
  return parseIdxLabels(readBytes(file), file);
}
