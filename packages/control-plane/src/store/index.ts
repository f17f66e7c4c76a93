// The store's public surface. The conformance suite is not re-exported: it imports node:test,
// which has no place in the control plane's production import graph; backends' tests import
// it from './conformance.js' directly.
export * from './types.js';
export { openEmbeddedStore } from './embedded.js';
export type { EmbeddedStoreOptions } from './embedded.js';
export { openEtcdStore } from './etcd.js';
export type { EtcdStoreOptions } from './etcd.js';
export { openStore, parseStoreUrl } from './open.js';
export type { OpenStoreOptions, StoreLocation } from './open.js';
