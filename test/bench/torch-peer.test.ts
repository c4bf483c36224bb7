import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runTorchPeer, torchEnvironment } from '../../bench/engines.js';

test('torchEnvironment holds every BLAS and OpenMP pool of the peer to the given threads', () => {
  const env = torchEnvironment(1, { PATH: '/bin', OPENBLAS_NUM_THREADS: '2' });
  assert.equal(env.PATH, '/bin');
  assert.equal(env.OMP_NUM_THREADS, '1');
  assert.equal(env.OPENBLAS_NUM_THREADS, '1');
  assert.equal(env.MKL_NUM_THREADS, '1');
});

test('the PyTorch peer runs one-threaded and reports the cores it used', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bopt-torch-peer-'));
  // a python that has "torch" (the probe) and otherwise is python3; a peer script that reports the
  // BLAS pool size it was given as its time, and --threads
  const python = join(dir, 'python');
  writeFileSync(
    python,
    `#!/bin/sh\nif [ "$1" = "-c" ] && [ "$2" = "import torch" ]; then exit 0; fi\nexec python3 "$@"\n`,
  );
  chmodSync(python, 0o755);
  const script = join(dir, 'torch_ref.py');
  writeFileSync(
    script,
    [
      'import json, os, sys, time',
      't = time.perf_counter()',
      'while time.perf_counter() - t < 0.2: pass  # one core busy',
      "threads = sys.argv[sys.argv.index('--threads') + 1]",
      "for b in sys.argv[sys.argv.index('--batch') + 1].split(','):",
      "    print(json.dumps({'engine': 'torch-fake', 'batch': int(b), 'threads': int(threads),",
      "                      'us_per_example': float(os.environ.get('OPENBLAS_NUM_THREADS', '0'))}))",
    ].join('\n'),
  );
  const r = runTorchPeer({ python, torchScript: script, repeats: 2 }, 800, [1, 1000], () => {});
  assert.notEqual(typeof r, 'string', String(r));
  if (typeof r === 'string') return;
  assert.deepEqual(
    r.rows.map((x) => [x.batch, x.us_per_example]),
    [
      [1, 1],
      [1000, 1],
    ],
  );
  assert.ok(r.cores > 0 && r.cores < 1.5, `cores ${r.cores}`);
});
