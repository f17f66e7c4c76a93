export * from './types.js';
export * from './field-path.js';
export { parseDurationMs } from './duration.js';
export type { IstioStringMatch, Percent, PortSelector, WorkloadSelector } from './fields.js';
export * from './virtual-service/index.js';
export * from './destination-rule/index.js';
export * from './gateway/index.js';
export * from './kinds.js';
export * from './validate.js';
