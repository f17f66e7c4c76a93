export { startGateway, type GatewayOptions, type RunningGateway } from './run/gateway.js';
export { startSidecar, type SidecarOptions, type RunningSidecar } from './run/sidecar.js';
export { connectSnapshotStream } from './client/stream.js';
