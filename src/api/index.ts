/**
 * The library: `import { predict, embed } from 'virnucpro'` (package.json
 * `exports` points here). A small, deliberate surface, documented in
 * docs/api.md: what it exports is kept stable; everything else in the package
 * is internal and may change in any release.
 */
export { predict, type ModelSource, type Precision, type PredictParams, type PredictResult } from './predict.js';
export { embed, demoModels, type DemoModelPaths, type EmbedModel, type EmbedParams, type EmbedResult } from './embed.js';
export { ExitCode, InputError, ResourceError, UsageError, VirnucproError } from '../util/errors.js';
export { TOOL_VERSION as version } from '../util/version.js';
