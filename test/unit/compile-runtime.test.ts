/**
 * The program that runs inside an `apr compile` executable, exercised in this process: the embedded-model
 * reader, `--info` and `--check` on APR bytes handed over as if they were the SEA asset, and the entry's
 * behaviour outside an executable. (test/cli/compile.test.ts runs the real executable end to end.)
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEmbedded, openEmbedded, type Embedded } from '../../src/compile/runtime/embedded.js';
import { checkEmbedded, embeddedInfo } from '../../src/compile/runtime/report.js';
import { MANIFEST_FORMAT, MODEL_ASSET, type Manifest } from '../../src/compile/manifest.js';
import { FormatError } from '../../src/formats/errors.js';
import { importModel } from '../../src/ops/model-io.js';
import { fixture, tempDir } from '../helpers.js';

const config = JSON.parse(readFileSync(fixture('models/tiny-coder-llama/config.json'), 'utf8')) as Record<string, number>;

function embedded(bytes: Uint8Array): Embedded {
  const sha = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const manifest: Manifest = {
    format: MANIFEST_FORMAT, name: 'tiny', weights: { asset: MODEL_ASSET, bytes: bytes.byteLength, sha256: sha }, quantize: null,
    target: 'linux-x64', node_version: process.version, tool_version: '0.1.0',
    provenance: { op: 'compile', options: {}, inputDigests: [sha], toolVersion: '0.1.0', time: new Date(0).toISOString() },
  };
  return { name: `tiny:${MODEL_ASSET}`, manifest, bytes };
}

describe('compiled-executable runtime, in process', () => {
  const dir = tempDir('apr-compile-runtime-');
  let apr: Uint8Array;
  beforeAll(() => {
    const out = join(dir.dir, 'tiny.apr');
    importModel({ input: fixture('models/tiny-coder-llama'), output: out, golden: true });
    apr = new Uint8Array(readFileSync(out));
  });
  afterAll(() => dir.cleanup());

  it('outside an executable, loadEmbedded says so in one FormatError naming the SEA blob', () => {
    expect(() => loadEmbedded()).toThrow(FormatError);
    expect(() => loadEmbedded()).toThrow(/NODE_SEA_BLOB/);
  });

  it('--info reads the architecture and the parameter count of the fixture (config.json, 5,639,424 from the safetensors headers)', () => {
    const info = embeddedInfo(embedded(apr));
    expect(info.architecture).toBe('llama');
    expect(info.parameters).toBe(5_639_424);
    expect(info.tensor_count).toBe(57);
    expect(info.config.hidden_size).toBe(config['hidden_size']);
    expect(info.config.num_layers).toBe(config['num_hidden_layers']);
    expect(info.config.num_kv_heads).toBe(config['num_key_value_heads']);
    expect(info.weights.sha256).toBe(`sha256:${createHash('sha256').update(apr).digest('hex')}`);
    expect(info.tokenizer?.vocab_size).toBe(config['vocab_size']);
  });

  it('--check passes all ten stages on intact bytes; one flipped byte in the tensor data fails it and the footer CRC refuses to open', () => {
    const ok = checkEmbedded(embedded(apr));
    expect(ok.stages).toHaveLength(10);
    expect(ok.stages.every((s) => s.status !== 'FAIL')).toBe(true);
    const bad = apr.slice();
    const at = Math.floor(bad.byteLength * 0.6);
    bad[at] = (bad[at] as number) ^ 0x40;
    expect(checkEmbedded(embedded(bad)).stages.some((s) => s.status === 'FAIL')).toBe(true);
    expect(() => openEmbedded(embedded(bad))).toThrow(/crc/i);
  });
});

describe('compiled-executable entry run by plain Node', () => {
  it('src/compile/runtime-entry.ts exits 3 with one line: not a single executable application', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/compile/runtime-entry.ts', 'def f():'], { encoding: 'utf8' });
    expect(r.status).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/not a single executable application/);
  });
});
