/**
 * A reverse-mode tape over Float32Array values. Every op computes its output at once and, when the tape
 * records and some input needs a gradient, pushes a closure that reads the output's gradient and adds into
 * its inputs' gradients. `backward` runs the closures in reverse order, once.
 */

/** A value on the tape: `grad` is allocated (zeros) the first time something adds into it. */
export class Var {
  grad: Float32Array | undefined;

  constructor(
    readonly value: Float32Array,
    readonly requiresGrad: boolean,
  ) {}

  /** The gradient buffer, created on first use. */
  g(): Float32Array {
    this.grad ??= new Float32Array(this.value.length);
    return this.grad;
  }
}

export class Tape {
  private steps: (() => void)[] = [];
  private done = false;

  constructor(readonly recording: boolean) {}

  /** A leaf that needs no gradient (token embeddings of a frozen table, constants). */
  constant(value: Float32Array): Var {
    return new Var(value, false);
  }

  /** The output of an op whose inputs are `inputs`; `back` runs in backward when it needs a gradient. */
  output(value: Float32Array, needsGrad: boolean, back: (out: Var) => void): Var {
    const out = new Var(value, this.recording && needsGrad);
    if (out.requiresGrad) {
      this.steps.push(() => {
        if (out.grad !== undefined) back(out);
      });
    }
    return out;
  }

  /** Seeds `root.grad` with `seed` and runs every recorded closure in reverse order. */
  backward(root: Var, seed: Float32Array): void {
    if (this.done) throw new Error('backward was already called on this tape');
    this.done = true;
    if (!root.requiresGrad) return;
    if (seed.length !== root.value.length) throw new RangeError(`backward: seed has ${seed.length} floats, the output ${root.value.length}`);
    root.g().set(seed);
    for (let i = this.steps.length - 1; i >= 0; i--) this.steps[i]?.();
    this.steps = [];
  }
}
