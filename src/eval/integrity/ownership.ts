import { FormatError } from '../../formats/errors.js';
import type { ModelFileFormat } from '../../formats/open.js';
import { TokenizerError } from '../../tokenizer/index.js';

/** Stage ids, named where the routing below refers to them. */
export const STAGE = { container: 1, metadata: 2, index: 3, tokenizer: 4, golden: 10 } as const;

const APR_TOKENIZER_FIELDS = ['metadata.tokenizer.json', 'metadata.chat_template', 'metadata.tokenizer_config', 'metadata.generation_config'];

function aprOwner(field: string): number {
  if (field.startsWith('index[')) return STAGE.index;
  if (field.startsWith('metadata.integrity')) return STAGE.index;
  if (field.startsWith('metadata.provenance')) return STAGE.golden;
  if (APR_TOKENIZER_FIELDS.some((f) => field.startsWith(f))) return STAGE.tokenizer;
  if (field.startsWith('metadata')) return STAGE.metadata;
  return STAGE.container;
}

const GGUF_CONTAINER_FIELDS = new Set(['magic', 'version', 'tensor_count', 'kv_count', 'file']);

function ggufOwner(field: string, message: string): number {
  // A tensor that starts or ends past the end of the file: bytes are missing (a truncated file).
  if (GGUF_CONTAINER_FIELDS.has(field) || field.endsWith('.data') || message.includes('past the end of the file')) return STAGE.container;
  if (field.startsWith("tensor '") || field.startsWith('tensor[')) return STAGE.index;
  if (field.startsWith('tokenizer.')) return STAGE.tokenizer;
  return STAGE.metadata;
}

const SAFETENSORS_CONTAINER_FIELDS = new Set(['header length', 'header', 'data_offsets', 'file', 'weights']);
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja', 'generation_config.json'];

function hfOwner(file: string, field: string): number {
  if (file.endsWith('config.json') && !file.endsWith('tokenizer_config.json') && !file.endsWith('generation_config.json')) return STAGE.metadata;
  if (TOKENIZER_FILES.some((f) => file.endsWith(f))) return STAGE.tokenizer;
  if (file.endsWith('.index.json')) return STAGE.index;
  return SAFETENSORS_CONTAINER_FIELDS.has(field) ? STAGE.container : STAGE.index;
}

/**
 * The stage that reports an error raised while opening a model: a reader stops at the first fault, and the
 * field it names says which stage's property was violated (a bad header CRC is a container fault, a
 * duplicate index entry an index fault, an unreadable vocabulary a tokenizer fault).
 */
export function ownerStage(format: ModelFileFormat | undefined, err: unknown): number {
  if (err instanceof TokenizerError) return STAGE.tokenizer;
  if (!(err instanceof FormatError)) return STAGE.container;
  switch (format) {
    case 'apr':
      return aprOwner(err.field);
    case 'gguf':
      return ggufOwner(err.field, err.message);
    case 'hf-dir':
    case 'safetensors':
      return hfOwner(err.file, err.field);
    default:
      return STAGE.container;
  }
}
