/**
 * The general.* naming keys of a LoRA GGUF against gguf-py's Metadata (run with python3 from a llama.cpp source
 * tree; skipped without one). Apart from test/unit/gguf-lora.test.ts so that one runs in-process only (mutation
 * testing leaves out test files that start child processes).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ggufValueToJson } from '../../src/formats/gguf/json-values.js';
import { adapterGeneralKv, modelCardFromKv, modelIdComponents, readModelCard } from '../../src/formats/gguf/lora-meta.js';
import { readGguf } from '../../src/formats/gguf/read.js';
import { fixture, tempDir } from '../helpers.js';
import { ggufPySkip } from '../golden/iq-gguf-py-tools.js';

const GGUF = fixture('gguf/tiny-coder-llama-lora-email-f32.gguf');
const tmp = tempDir('apr-gguf-lora-py-');
afterAll(() => tmp.cleanup());

function cardOf(path: string): string {
  const f = readGguf(path);
  try {
    return modelCardFromKv(f.kv);
  } finally {
    f.close();
  }
}

const srcCandidates = [process.env['APR_LLAMA_CPP_SRC'], '.llama-cpp/src', '../llama-cpp/src', '.cache/llama-cpp/src'].filter((p): p is string => p !== undefined);
const llamaSrc = srcCandidates.map((p) => resolve(process.cwd(), p)).find((p) => existsSync(join(p, 'gguf-py/gguf/metadata.py')));

/** gguf-py's get_model_id_components for ids, and Metadata.load + set_gguf_meta_model for folders. */
const GGUF_PY = `
import sys, json
sys.path.insert(0, sys.argv[1] + '/gguf-py')
import gguf
from gguf.metadata import Metadata
from pathlib import Path
req = json.loads(sys.stdin.read())
out = {'ids': [list(Metadata.get_model_id_components(i, t)) for i, t in req['ids']], 'dirs': []}
for d, t in req['dirs']:
    w = gguf.GGUFWriter(None, 'llama')
    Metadata.load(None, Path(d), None, t).set_gguf_meta_model(w)
    out['dirs'].append([[k, v.value] for k, v in w.kv_data[0].items() if k != 'general.architecture'])
print(json.dumps(out))
`;

describe.skipIf(llamaSrc === undefined || ggufPySkip !== undefined)('general.* naming keys agree with gguf-py', () => {
  const ids: [string, number][] = [
    ['tiny-coder-llama-lora-email', -43008], ['Mistral-7B-Instruct-v0.2', -1000], ['org/Llama-3-8B-lora-128k', -8e9], ['Qwen2.5-Coder-1.5B-Instruct', 1.5e9],
    ['my_adapter', -10], ['bloom-7b1-lora', -7e9], ['./local-model-v1.2', 0], ['Phi-3-mini-4k-instruct', 3.8e9], ['a b c', -1], ['x-8x7B-chat-q4_0', 4.6e10],
  ];
  it('model id components and the keys of a folder with our model card', () => {
    const cardDir = join(tmp.dir, 'exported-adapter');
    mkdirSync(cardDir, { recursive: true });
    writeFileSync(join(cardDir, 'README.md'), cardOf(GGUF));
    const plainDir = join(tmp.dir, 'Llama-3-8B-Instruct-lora-v2');
    mkdirSync(plainDir, { recursive: true });
    const req = { ids, dirs: [[cardDir, -43008], [plainDir, -43008]] };
    const py = JSON.parse(execFileSync('python3', ['-c', GGUF_PY, llamaSrc ?? ''], { input: JSON.stringify(req), encoding: 'utf8' })) as { ids: (string | null)[][]; dirs: [string, unknown][][] };
    ids.forEach(([id, total], i) => {
      const c = modelIdComponents(id, total);
      expect([c.name, c.org ?? null, c.basename ?? null, c.finetune ?? null, c.version ?? null, c.sizeLabel ?? null], id).toEqual(py.ids[i]);
    });
    const ours = (dir: string) => adapterGeneralKv(dir.split('/').at(-1)!, readModelCard(dir), -43008).map(([k, v]) => [k, ggufValueToJson(v)]);
    expect(ours(cardDir)).toEqual(py.dirs[0]);
    expect(ours(plainDir)).toEqual(py.dirs[1]);
  });
});
