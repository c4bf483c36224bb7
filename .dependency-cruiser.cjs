/**
 * The layer rule of README "How it works", checked by `npm run lint:deps` (part of `npm test`): a
 * module imports only from its own layer and from lower ones, and no import cycle exists.
 */
const LAYERS = [
  '^src/(errors|paths|version)\\.ts$',
  '^src/engines/',
  '^src/(sweep|search)/',
  '^src/storage/',
  '^src/pool/',
  '^src/scheduler/',
  '^src/queue/',
  '^src/analysis/',
  '^src/ui/',
  '^src/cli/',
];

const upward = LAYERS.slice(0, -1).map((from, i) => ({
  name: `layer-${i}-imports-upward`,
  comment: `${from} may import only from its own layer and the ones below it (README: How it works)`,
  severity: 'error',
  from: { path: from },
  to: { path: LAYERS.slice(i + 1) },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      comment: 'import cycles hide which module depends on which',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'src-imports-no-tests-or-benches',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'sqlite-only-in-storage',
      comment:
        'all SQL lives in src/storage behind named methods (README: How it works); tests may open a database of their own',
      severity: 'error',
      from: { path: '^(src|bench)/', pathNot: '^src/storage/' },
      to: { path: '^node_modules/(@types/)?better-sqlite3/' },
    },
    {
      name: 'connections-stay-in-storage',
      comment: 'a raw SQLite connection never leaves src/storage: open a SweepStore (or SweepStore.openReadOnly)',
      severity: 'error',
      from: { path: '^(src|bench)/', pathNot: '^src/storage/' },
      to: { path: '^src/storage/(open|migrate|fits)\\.ts$' },
    },
    {
      name: 'every-src-file-has-a-layer',
      comment: 'a new top-level folder under src/ needs its place in LAYERS and in the README',
      severity: 'error',
      from: { path: '^src/', pathNot: LAYERS },
      to: {},
    },
    ...upward,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.js'] },
  },
};
