import { z } from 'zod';

/** Asset names inside the executable's SEA blob. */
export const MODEL_ASSET = 'model.apr';
export const MANIFEST_ASSET = 'manifest.json';
export const MANIFEST_FORMAT = 'apr-compiled-v1';

/**
 * What the compiler records next to the weights: enough to say what the executable is and to check that the
 * embedded APR file is the one that was compiled (its SHA-256 over the whole file).
 */
export const ManifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  name: z.string(),
  weights: z.object({ asset: z.literal(MODEL_ASSET), bytes: z.number().int().nonnegative(), sha256: z.string().regex(/^sha256:[0-9a-f]{64}$/) }),
  quantize: z.string().nullable(),
  target: z.string(),
  node_version: z.string(),
  tool_version: z.string(),
  provenance: z.object({
    op: z.literal('compile'),
    options: z.record(z.string(), z.unknown()),
    inputDigests: z.array(z.string()),
    toolVersion: z.string(),
    time: z.string().optional(),
  }),
});

export type Manifest = z.infer<typeof ManifestSchema>;
