export {
  startDemo,
  SEED_DIR,
  type RunningDemo,
  type DemoOptions,
  type DemoProcess,
} from './demo/demo.js';
export { buildProgram, main } from './main.js';
export { bucketQuantile, goldenRows, type GoldenRow } from './commands/top-stats.js';
