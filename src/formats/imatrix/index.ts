export { parseImatrix, readImatrix } from './read.js';
export { type Imatrix, type ImatrixEntry, type ImatrixFormat, type ImatrixWeights, imatrixWeights, weightsFor } from './types.js';
export { type CollectedImatrix, collectedFrom, encodeImatrixLegacy, writeImatrix, writeImatrixGguf, writeImatrixLegacy } from './write.js';
