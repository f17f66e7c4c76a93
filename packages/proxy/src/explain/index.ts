export {
  DEFAULT_GATEWAY_LABELS,
  explainRequest,
  explainTable,
  nodeFor,
  requestViewOf,
  type ExplainInput,
  type ExplainOptions,
  type ExplainTableOptions,
  type ExplainView,
} from './explain.js';
export { compactExplain, formatExplain, headerSafe } from './format.js';
export { whyBlockFails, whyBlocksFail, type FieldFailure } from './why-not.js';
export type * from './types.js';
