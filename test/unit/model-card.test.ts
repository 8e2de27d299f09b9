/** The Hub model card (src/formats/hf-dir/model-card.ts): YAML front matter that parses back, and its sections. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type ModelCardInput, renderModelCard } from '../../src/formats/hf-dir/model-card.js';

const input: ModelCardInput = {
  repoId: 'org/tiny', modelName: 'tiny', license: 'apache-2.0', pipelineTag: 'text-generation', libraryName: 'apr', tags: ['code', 'apr'],
  toolVersion: 'apr 0.1.0', architecture: 'qwen2', stages: [], provenance: [], results: [],
  size: { parameters: 1000, dtypes: { Q8_0: 2, F32: 3 }, sourceBytes: 4000, publishedBytes: 1500 }, files: [],
};

/** The front matter's YAML, parsed; undefined when the card does not start with a `---` block. */
function front(card: string): unknown {
  const m = /^---\n([\s\S]*?\n)---\n/.exec(card);
  return m === null ? undefined : parse(m[1] ?? '');
}

describe('renderModelCard', () => {
  it('[ob:publish-card] front matter has exactly the Hub keys, base_model only when given', () => {
    expect(front(renderModelCard(input))).toEqual({ license: 'apache-2.0', pipeline_tag: 'text-generation', library_name: 'apr', tags: ['code', 'apr'] });
    expect(front(renderModelCard({ ...input, baseModel: 'Qwen/Qwen2.5-0.5B' }))).toEqual({
      license: 'apache-2.0', pipeline_tag: 'text-generation', library_name: 'apr', tags: ['code', 'apr'], base_model: 'Qwen/Qwen2.5-0.5B',
    });
  });

  it('[ob:publish-card] any strings survive the YAML round trip (quotes, colons, newlines, ---, YAML keywords)', () => {
    const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('yes', 'null', '~', '1e3', '0x1F', '- a', '---', 'a: b', '#c', '@x', ' lead', '\n---\n'));
    fc.assert(
      fc.property(text, fc.array(text, { maxLength: 4 }), text, (license, tags, baseModel) => {
        expect(front(renderModelCard({ ...input, license, tags, baseModel }))).toEqual({ license, pipeline_tag: 'text-generation', library_name: 'apr', tags, base_model: baseModel });
      }),
      { numRuns: 80 },
    );
  });

  it('[ob:publish-card] has the sections in order, after the title', () => {
    const card = renderModelCard(input);
    const heads = card.split('\n').filter((l) => l.startsWith('#'));
    expect(heads).toEqual(['# tiny', '## Base model', '## Pipeline stages (in order)', '## Training data and decontamination', '## Evaluation', '## Quantization and size', '## Files']);
  });

  it('says what was not given instead of leaving sections empty', () => {
    const card = renderModelCard(input);
    for (const s of ['`--base-model org/name`', '`--lock pipeline.lock.json`', 'records no provenance', '`--data-summary FILE`', '`--results FILE`']) expect(card).toContain(s);
    expect(renderModelCard({ ...input, dataSummary: '  \n ' })).toContain('`--data-summary FILE`');
  });

  it('lists stages, provenance, results, size and files from the input', () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const card = renderModelCard({
      ...input,
      baseModel: 'Qwen/Qwen2.5-0.5B',
      stages: [{ name: 'finetune', command: 'apr finetune m.apr --epochs 1', outputs: { 'ft.apr': digest } }, { name: 'eval', command: 'apr eval ft.apr', outputs: {} }],
      lockFile: 'pipeline.lock.json',
      provenance: [{ op: 'quantize', options: { scheme: 'q8_0' }, inputDigests: [digest], toolVersion: 'apr 0.1.0' }],
      dataSummary: '  200 rows, decontaminated against humaneval.\n',
      results: [{ file: 'results/he.json', benchmark: 'humaneval', total: 164, passed: 82, passAt1: 0.5, passAt10: null }],
      files: [{ name: 'model.safetensors', bytes: 1234567, digest }],
    });
    expect(card).toContain('[Qwen/Qwen2.5-0.5B](https://huggingface.co/Qwen/Qwen2.5-0.5B)');
    // digests are shortened to 19 characters and an ellipsis
    expect(card).toContain('1. **finetune**: `apr finetune m.apr --epochs 1` → `ft.apr` (sha256:abababababab…)\n2. **eval**: `apr eval ft.apr`\n');
    expect(card).toContain('[pipeline.lock.json](pipeline.lock.json)');
    expect(card).toContain('1. `quantize` (scheme="q8_0"); inputs sha256:abababababab…; apr 0.1.0');
    expect(card).toContain('\n\n200 rows, decontaminated against humaneval.\n');
    expect(card).toContain('| humaneval | 0.50 | – | 82/164 | [results/he.json](results/he.json) |');
    // 1000 parameters are 4000 float32 bytes; 1500 published bytes are 37.5 % of that
    expect(card).toContain('- Tensor types: F32 × 3, Q8_0 × 2\n');
    expect(card).toContain('published weights: 1,500 bytes (37.5 % of the float32 size, 4,000 bytes)');
    expect(card).toContain(`| model.safetensors | 1,234,567 | \`${digest}\` |`);
  });

  it('is a pure function of its input', () => {
    expect(renderModelCard({ ...input, tags: [...input.tags] })).toBe(renderModelCard(input));
    expect(renderModelCard({ ...input, modelName: 'other' })).not.toBe(renderModelCard(input));
  });
});
