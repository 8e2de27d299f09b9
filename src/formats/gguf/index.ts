export { readGgufBundle } from './bundle-read.js';
export { bundleKv, writeGgufBundle, type WriteGgufOptions } from './bundle-write.js';
export { ggufValueFromJson, ggufValueToJson, ggufTypeString } from './json-values.js';
export { ggufNameFromHf, hfNameFromGguf, permuteRopeRows } from './names.js';
export { parseGguf, parseGgufHeader, readGguf, type GgufFile, type GgufHeader } from './read.js';
export { GGUF_TYPE_IDS, type GgufArray, type GgufTensorInfo, type GgufType, type GgufValue } from './types.js';
export { encodeGgufHeader, writeGguf, type GgufTensorInput } from './write.js';
