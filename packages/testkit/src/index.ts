export * from './clock.js';
export * from './random.js';
export * from './upstream.js';
export * from './etcd.js';
