/** Exit codes shared by apr, pv and pmat. */
export const EXIT = {
  ok: 0,
  /** The command ran and found a failure (a failed check stage, a refuted proof, a failed gate). */
  failed: 1,
  /** Bad usage: unknown command, unknown flag, impossible option. */
  usage: 2,
  /** Bad input file or data: corrupt, truncated, wrong shapes, malformed JSON/JSONL, missing tokenizer. */
  badInput: 3,
  /** A contract pre/postcondition was violated at run time. */
  contract: 4,
  /** Anything else (a bug): reported with its message. */
  internal: 70,
} as const;
