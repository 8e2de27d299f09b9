import { iqTableSigned } from '../../../tensor/codecs/iq-grids.js';

/** ggml's kvalues_iq4nl, the 16 signed levels of IQ4_NL (and IQ4_XS), as the kernels embed them. */
export const IQ4NL_LEVELS: readonly number[] = Array.from(iqTableSigned('kvalues_iq4nl'));
