/** The server's Prometheus metrics (prom-client), in a registry of its own (several servers may share a process). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CompletionEngine } from './engine.js';
import type { ChoiceTimer } from './generation.js';

export interface ServerMetrics {
  readonly registry: Registry;
  request(endpoint: string, status: number): void;
  tokens(prompt: number, completion: number): void;
  readonly timer: ChoiceTimer;
  text(): Promise<string>;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(engine: CompletionEngine): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'apr_' });
  const registers = [registry];
  const requests = new Counter({ name: 'apr_requests_total', help: 'HTTP requests answered, by endpoint and status', labelNames: ['endpoint', 'status'], registers });
  const promptTokens = new Counter({ name: 'apr_prompt_tokens_total', help: 'Prompt tokens processed', registers });
  const completionTokens = new Counter({ name: 'apr_completion_tokens_total', help: 'Tokens generated', registers });
  new Gauge({ name: 'apr_queue_length', help: 'Requests waiting for a decoding slot', registers, collect() { this.set(engine.queueLength()); } });
  new Gauge({ name: 'apr_active_sequences', help: 'Sequences being decoded now', registers, collect() { this.set(engine.activeCount()); } });
  new Gauge({ name: 'apr_slots', help: 'Sequences decoded together at most (continuous batching)', registers, collect() { this.set(engine.slots); } });
  const ttft = new Histogram({ name: 'apr_time_to_first_token_seconds', help: 'Time from submitting a sequence to its first token (queue + prefill)', buckets: LATENCY_BUCKETS, registers });
  const tpot = new Histogram({ name: 'apr_time_per_output_token_seconds', help: 'Time between consecutive tokens of a sequence', buckets: LATENCY_BUCKETS, registers });
  return {
    registry,
    request: (endpoint, status) => requests.inc({ endpoint, status: String(status) }),
    tokens: (prompt, completion) => {
      promptTokens.inc(prompt);
      completionTokens.inc(completion);
    },
    timer: { firstToken: (s) => ttft.observe(s), nextToken: (s) => tpot.observe(s) },
    text: () => registry.metrics(),
  };
}
