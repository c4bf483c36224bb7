/**
 * `npm run bench`: the engine benchmark (µs per example for every available engine, PyTorch beside
 * it when installed) and the orchestration benchmark. `--quick` for a short smoke run.
 */
import { formatEngineBench, runEngineBench } from './engines.js';
import { formatOrchestrationBench, runOrchestrationBench } from './orchestration.js';

const quick = process.argv.includes('--quick');
console.log('engines (µs per training example, one thread; best of short windows):');
const rows = await runEngineBench({ seconds: quick ? 0.3 : 1, repeats: quick ? 1 : 3 });
console.log('\n' + formatEngineBench(rows) + '\n');
console.log(formatOrchestrationBench(await runOrchestrationBench({ quick })));
