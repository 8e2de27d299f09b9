export { type AprFlag, type AprHeader, type AprIndexEntry, ALIGNMENT, FLAGS, HEADER_SIZE, flagNames } from './layout.js';
export { type AprBundle, type AprInspection, type ReadAprOptions, inspectApr, readApr, readAprFrom } from './read.js';
export { type ByteSource, bufferSource, fileSource } from '../byte-source.js';
export { type WriteAprOptions, type WriteAprResult, writeApr } from './write.js';
export { computeFooter, verifyFooter } from './parse.js';
