import { type Hash, createHash } from 'node:crypto';

/** Per-tensor digests are written as `sha256:<64 lowercase hex>` (the form `ModelBundle.integrity` holds). */
export const DIGEST_PREFIX = 'sha256:';
export const DIGEST_LENGTH = DIGEST_PREFIX.length + 64;
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

export function isDigest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST_RE.test(value);
}

/** Incremental SHA-256 for data that arrives in pieces (a tensor streamed in chunks). */
export class Sha256Digest {
  private readonly hash: Hash = createHash('sha256');

  update(bytes: Uint8Array): this {
    this.hash.update(bytes);
    return this;
  }

  /** The digest as `sha256:<hex>`. Call once. */
  digest(): string {
    return DIGEST_PREFIX + this.hash.digest('hex');
  }
}

/** `sha256:<hex>` of `bytes`. */
export function sha256Digest(bytes: Uint8Array): string {
  return new Sha256Digest().update(bytes).digest();
}
