export { createModelGateway } from './gateway.js';
export type { GatewaySession, ModelGateway, ModelGatewayOptions } from './gateway.js';
export { defaultPathAllowed } from './proxy.js';
export type { ModelRequestInfo, ModelResponseInfo } from './proxy.js';
export type { ModelUsage, UpstreamError } from './usage.js';
