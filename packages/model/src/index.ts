export * from './snapshot.js';
export * from './names.js';
export * from './registry.js';
export * from './stream.js';
export * from './violation.js';
export * from './errors.js';
export * from './resources/index.js';
export * from './delta.js';
