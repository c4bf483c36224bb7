export * from './cli.js';
export * from './fixtures.js';
