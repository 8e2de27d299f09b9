export { loadTokenizer, bpeEncode, bpeDecode, promptTokenIds } from './tokenizer.js';
export type { Tokenizer, PromptRequest, EncodeOptions, DecodeOptions, LoadTokenizerOptions, CodecCore } from './tokenizer.js';
export { createStreamDecoder, type StreamDecoder } from './stream.js';
export { chatTemplateOf, CHATML_TEMPLATE, type ChatMessage, type ChatTemplateOptions } from './chat-template.js';
export { TEMPLATE_END_MARKERS, type ModelSpecialIds } from './special-tokens.js';
export { tokenizerFromGgufVocab, ggufVocabFromTokenizer, TOKEN_TYPE } from './gguf-vocab.js';
export type { GgufVocab, GgufExportOptions } from './gguf-vocab.js';
export { tokenizerCodecContract } from './contract.js';
export { TokenizerError } from './tokenizer-json.js';
