import { basename } from 'node:path';
import * as sea from 'node:sea';
import { type AprBundle, bufferSource, readAprFrom } from '../../formats/apr/index.js';
import { FormatError } from '../../formats/errors.js';
import { MANIFEST_ASSET, MODEL_ASSET, type Manifest, ManifestSchema } from '../manifest.js';

/** The model embedded in this executable: its manifest and a view of the APR file's bytes (not a copy). */
export interface Embedded {
  /** `<executable>:model.apr`, the name used in messages. */
  readonly name: string;
  readonly manifest: Manifest;
  readonly bytes: Uint8Array;
}

function rawAsset(exe: string, key: string): ArrayBuffer {
  let raw: string | ArrayBuffer;
  try {
    raw = sea.getRawAsset(key);
  } catch (err) {
    throw new FormatError(exe, key, `no embedded asset (${err instanceof Error ? err.message : String(err)})`);
  }
  if (typeof raw === 'string') throw new FormatError(exe, key, 'embedded asset is not binary');
  return raw;
}

function parseManifest(exe: string, raw: ArrayBuffer): Manifest {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(new Uint8Array(raw)));
  } catch (err) {
    throw new FormatError(exe, MANIFEST_ASSET, `not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const r = ManifestSchema.safeParse(doc);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new FormatError(exe, `${MANIFEST_ASSET}.${issue?.path.join('.') ?? ''}`, issue?.message ?? 'invalid');
  }
  return r.data;
}

/** Finds the embedded model; throws FormatError when this process is not an executable made by apr compile. */
export function loadEmbedded(): Embedded {
  const exe = basename(process.execPath);
  if (!sea.isSea()) throw new FormatError(exe, 'NODE_SEA_BLOB', 'not a single executable application (made by apr compile)');
  const manifest = parseManifest(exe, rawAsset(exe, MANIFEST_ASSET));
  // getRawAsset maps the section of the executable: reading it does not copy the model into the JS heap.
  const bytes = new Uint8Array(rawAsset(exe, MODEL_ASSET));
  const name = `${exe}:${MODEL_ASSET}`;
  if (bytes.byteLength !== manifest.weights.bytes) {
    throw new FormatError(name, 'size', `embedded file has ${bytes.byteLength} bytes, the manifest records ${manifest.weights.bytes}`);
  }
  return { name, manifest, bytes };
}

/**
 * The embedded APR file as a lazy bundle: tensors are read from the mapped asset on demand. The footer CRC
 * is verified by default (one pass over the bytes), so a corrupted executable fails to open.
 */
export function openEmbedded(e: Embedded, verifyFooter = true): AprBundle {
  return readAprFrom(bufferSource(e.bytes, e.name), { verifyFooter });
}
