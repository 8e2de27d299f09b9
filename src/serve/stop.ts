/**
 * Stop strings on decoded text. Text is released only once it cannot be the start of a stop string, so a
 * stop string split across tokens is caught and never streamed in part; at a match the text before it is
 * released and generation ends (the stop string itself is not returned, as OpenAI's API does).
 */
export interface StopScan {
  /** Text safe to emit now. */
  text: string;
  /** A stop string was found: generation should end. */
  stopped: boolean;
}

/** Length of the longest suffix of `text` that is a proper prefix of one of `stops`. */
function heldBack(text: string, stops: readonly string[]): number {
  let hold = 0;
  for (const s of stops) {
    for (let n = Math.min(s.length - 1, text.length); n > hold; n--) {
      if (text.endsWith(s.slice(0, n))) {
        hold = n;
        break;
      }
    }
  }
  return hold;
}

export class StopMatcher {
  private pending = '';
  private done = false;

  constructor(private readonly stops: readonly string[]) {}

  get stopped(): boolean {
    return this.done;
  }

  /** Adds decoded text; returns what may be emitted. After a stop, everything else is dropped. */
  push(piece: string): StopScan {
    if (this.done) return { text: '', stopped: true };
    this.pending += piece;
    let cut = -1;
    for (const s of this.stops) {
      const at = this.pending.indexOf(s);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.done = true;
      const text = this.pending.slice(0, cut);
      this.pending = '';
      return { text, stopped: true };
    }
    const keep = heldBack(this.pending, this.stops);
    const text = this.pending.slice(0, this.pending.length - keep);
    this.pending = this.pending.slice(this.pending.length - keep);
    return { text, stopped: false };
  }

  /** At the end of generation: the text held back (it was not a stop string after all). */
  flush(): string {
    const text = this.done ? '' : this.pending;
    this.pending = '';
    return text;
  }
}
