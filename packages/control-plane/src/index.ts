export * from './store/types.js';
export { openEmbeddedStore } from './store/embedded.js';
export { startControlPlane, type ControlPlaneOptions, type RunningControlPlane } from './start.js';
export { ControlPlane } from './control-plane.js';
export { translate } from './translate/translate.js';
export type { TranslateInput } from './translate/input.js';
export type { ApplyResult, RouteRow } from './api/server.js';
