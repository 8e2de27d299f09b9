import { describeIntDotTypes } from './int-dot-llama-tools.js';

describeIntDotTypes('integer-dot K-quants against llama-perplexity', [['Q5_K_S', 'Q5_K'], ['Q3_K_S', 'Q3_K'], ['Q2_K', 'Q2_K']]);
