import { type ByteSource, fileSource, readAprFrom } from '../../formats/apr/index.js';
import { HEADER_SIZE, headerCrc } from '../../formats/apr/layout.js';
import { type ModelFileFormat, detectFormat, openModel } from '../../formats/open.js';
import { type Model, loadModel } from '../../model/index.js';
import type { ModelBundle } from '../../tensor/bundle.js';
import { sha256Digest } from '../../tensor/digest.js';
import { type Tokenizer, loadTokenizer } from '../../tokenizer/index.js';
import { ownerStage } from './ownership.js';
import { errorMessage } from './types.js';

export interface CheckContextOptions {
  /** Run the forward passes of stages 9 and 10 (default true). */
  forward?: boolean;
}

/** The model could not be opened: `owner` is the stage whose property the reader found violated. */
export class ModelOpenError extends Error {
  constructor(
    readonly owner: number,
    readonly reason: unknown,
  ) {
    super(errorMessage(reason));
    this.name = 'ModelOpenError';
  }
}

/**
 * An APR file with the stored header CRC replaced by the computed one: stage 1 reports a bad header CRC,
 * and the later stages still see the rest of the file (a flipped reserved byte should not hide a NaN).
 */
export function headerRepairedSource(path: string): ByteSource {
  const src = fileSource(path);
  if (src.size < HEADER_SIZE) return src;
  const patch = new Uint8Array(4);
  new DataView(patch.buffer).setUint32(0, headerCrc(src.read(0, HEADER_SIZE)), true);
  const overlay = (target: Uint8Array, offset: number): void => {
    for (let i = 0; i < 4; i++) {
      const at = 40 + i - offset;
      if (at >= 0 && at < target.byteLength) target[at] = patch[i] as number;
    }
  };
  return {
    name: src.name,
    size: src.size,
    read(offset, length) {
      const bytes = src.read(offset, length);
      overlay(bytes, offset);
      return bytes;
    },
    readInto(target, offset) {
      src.readInto(target, offset);
      overlay(target, offset);
    },
    close: () => src.close(),
  };
}

type Memo<T> = { ok: true; value: T } | { ok: false; error: unknown };

function memo<T>(slot: { v?: Memo<T> }, make: () => T): T {
  if (!slot.v) {
    try {
      slot.v = { ok: true, value: make() };
    } catch (error) {
      slot.v = { ok: false, error };
    }
  }
  if (slot.v.ok) return slot.v.value;
  throw slot.v.error;
}

/**
 * What the stages share: the model opened once (lazily, tensor bytes on demand), its tokenizer, the loaded
 * decoder for the forward stages and the per-tensor SHA-256 digests (one streaming pass, used by stages 3
 * and 10).
 */
export class CheckContext {
  readonly format: ModelFileFormat | undefined;
  readonly formatError: unknown;
  readonly forward: boolean;
  private readonly bundleSlot: { v?: Memo<ModelBundle> } = {};
  private readonly tokenizerSlot: { v?: Memo<Tokenizer> } = {};
  private readonly modelSlot: { v?: Memo<Model> } = {};
  private readonly digestSlot: { v?: Memo<Map<string, string>> } = {};

  constructor(
    readonly path: string,
    opts: CheckContextOptions = {},
  ) {
    this.forward = opts.forward ?? true;
    let format: ModelFileFormat | undefined;
    let formatError: unknown;
    try {
      format = detectFormat(path);
    } catch (err) {
      formatError = err;
    }
    this.format = format;
    this.formatError = formatError;
  }

  /** The model as a lazy bundle; throws ModelOpenError naming the stage that owns the fault. */
  bundle(): ModelBundle {
    return memo(this.bundleSlot, () => {
      if (this.format === undefined) throw new ModelOpenError(1, this.formatError);
      try {
        if (this.format === 'apr') return readAprFrom(headerRepairedSource(this.path), { verifyFooter: false });
        return openModel(this.path);
      } catch (err) {
        throw new ModelOpenError(ownerStage(this.format, err), err);
      }
    });
  }

  /** The tokenizer; throws when the model has none or it does not load. */
  tokenizer(): Tokenizer {
    return memo(this.tokenizerSlot, () => {
      const b = this.bundle();
      if (!b.tokenizer) throw new Error('the model carries no tokenizer');
      return loadTokenizer(b.tokenizer, { modelConfig: b.config, source: this.path });
    });
  }

  /** The decoder with every weight in memory, loaded once for stages 9 and 10. */
  model(): Model {
    return memo(this.modelSlot, () => loadModel(this.bundle()));
  }

  /** `sha256:<hex>` of each tensor's stored bytes, streamed one tensor at a time. */
  tensorDigests(): Map<string, string> {
    return memo(this.digestSlot, () => {
      const store = this.bundle().tensors;
      const out = new Map<string, string>();
      for (const name of store.names()) {
        const ref = store.get(name);
        if (ref) out.set(name, sha256Digest(ref.read()));
      }
      return out;
    });
  }

  close(): void {
    if (this.modelSlot.v?.ok) this.modelSlot.v.value.dispose();
    if (this.bundleSlot.v?.ok) this.bundleSlot.v.value.tensors.close();
  }
}
