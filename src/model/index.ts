export { type ActivationObserver, type ActivationSite, createDecoder, decoderForward, type DecoderOptions, type ForwardOptions, type Model } from './decoder.js';
export { generate, type GenerateOptions, type GenerateResult, type GenerateTiming, type OnToken } from './generate.js';
export type { KVCache } from './kv-cache.js';
export { loadModel, type LoadModelOptions } from './load.js';
export { Rng } from './rng.js';
export { createSession, type Session } from './session.js';
export {
  applyRepetitionPenalty,
  argmax,
  type Candidates,
  createSampler,
  sampleFromProbabilities,
  sampleToken,
  samplingDistribution,
  type SamplingOptions,
  tokenProbabilities,
} from './sampling.js';
export { loadDecoderWeights, type DecoderWeights, type LayerWeights, type Linear, type WeightLoadOptions } from './weights.js';
