import { ingestProcessor } from './ingest.js';
import type { ProcessorDefinition } from './processor.js';
import { recomputeProcessorDefinition } from './recompute.js';

/**
 * Every queue processor `survflow worker` runs. To add one, write src/workers/<queue>.ts
 * exporting a ProcessorDefinition and append it here.
 */
export const PROCESSORS: readonly ProcessorDefinition[] = [ingestProcessor, recomputeProcessorDefinition];
