import type { DType } from './dtype.js';

/**
 * A lazy tensor: metadata now, bytes on demand. Shapes are canonical row-major (`[out, in]` for a linear
 * weight, as in Hugging Face / PyTorch); format readers translate (GGUF stores dims innermost first).
 */
export interface TensorRef {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly byteLength: number;
  /** The raw bytes in `dtype` encoding. Reads only this tensor's bytes from disk. */
  read(): Uint8Array;
}

export interface TensorStore {
  /** Tensor names in a stable order. */
  names(): readonly string[];
  get(name: string): TensorRef | undefined;
  /** Releases open files. Safe to call twice. */
  close(): void;
}

/** Raises a clear error for a tensor that must exist. */
export function requireTensor(store: TensorStore, name: string): TensorRef {
  const t = store.get(name);
  if (!t) throw new Error(`missing tensor '${name}'`);
  return t;
}

/** An in-memory store, for tensors computed by an operation before they are written. */
export class MemoryTensorStore implements TensorStore {
  private readonly tensors = new Map<string, TensorRef>();

  add(name: string, dtype: DType, shape: readonly number[], bytes: Uint8Array): void {
    this.tensors.set(name, { name, dtype, shape: [...shape], byteLength: bytes.byteLength, read: () => bytes });
  }

  addRef(ref: TensorRef): void {
    this.tensors.set(ref.name, ref);
  }

  names(): readonly string[] {
    return [...this.tensors.keys()];
  }

  get(name: string): TensorRef | undefined {
    return this.tensors.get(name);
  }

  close(): void {
    // nothing to release
  }
}
