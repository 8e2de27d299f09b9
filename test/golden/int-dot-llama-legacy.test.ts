import { describeIntDotTypes } from './int-dot-llama-tools.js';

describeIntDotTypes('integer-dot 32-value block types against llama-perplexity', [['Q5_0', 'Q5_0'], ['IQ4_NL', 'IQ4_NL'], ['Q4_1', 'Q4_1'], ['Q5_1', 'Q5_1']]);
