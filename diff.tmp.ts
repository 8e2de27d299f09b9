import { execFileSync } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import { loadTokenizer } from '/work/main/src/tokenizer/index.js';
const B = '/work/llama-cpp/src/build/bin/llama-tokenize';
const M = process.argv[2] ?? '/work/shared/fixtures/gguf/tiny-coder-llama-f32.gguf';
const dir = '/work/shared/fixtures/models/tiny-coder-llama/';
import { tokenizerFromGgufVocab } from '/work/main/src/tokenizer/index.js';
import { readGgufKv, vocabFromKv } from '/work/main/test/golden/tokenizer-gguf-kv.js';
const tok = loadTokenizer(tokenizerFromGgufVocab(vocabFromKv(readGgufKv(M))));
const frags = ['a', 'x', '=', ' ', '  ', '\n', '\t', '\r\n', '\u0085', '\ufeff', '\u00a0', '\u2028', '\u3000', '\u200b', 'é', '🙂', '1', '23', "'s", '(', ')', ':', 'def', 'return'];
let seed = 12345;
const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
const cases: string[] = ['x\ufeff=', ' \u0085x', 'a\u0085 b', '\ufeffdef f():', 'x \ufeff y', '\u0085\u0085 =', '= \u00a0 x'];
for (let i = 0; i < 300; i++) { let s = ''; const n = 1 + rnd(10); for (let j = 0; j < n; j++) s += frags[rnd(frags.length)]; cases.push(s); }
let bad = 0;
for (const s of cases) {
  writeFileSync('/tmp/tk/in.txt', s);
  const out = execFileSync(B, ['-m', M, '-f', '/tmp/tk/in.txt', '--ids', '--no-bos', '--log-disable'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim().split('\n').pop() ?? '';
  const ref = JSON.parse(out) as number[];
  const got = tok.encode(s, { addSpecialTokens: false });
  if (JSON.stringify(ref) !== JSON.stringify(got)) { bad++; if (bad < 8) console.log(JSON.stringify(s), 'llama', JSON.stringify(ref), 'ours', JSON.stringify(got)); }
}
console.log('mismatches', bad, 'of', cases.length);
