import { describe, expect, it } from 'vitest';
import { renderModelCard } from '../../src/formats/hf-dir/model-card.js';
import { repoIdProblem } from '../../src/formats/hf-dir/repo-id.js';
import { parse } from 'yaml';

describe('Hub repository ids', () => {
  it('[ob:publish-repo-id] accepts what huggingface_hub accepts and rejects the rest, with a reason', () => {
    for (const ok of ['org/name', 'paiml/qwen2.5-coder-7b_apr', 'A-b/c.d', `o/${'x'.repeat(94)}`]) expect(repoIdProblem(ok), ok).toBeUndefined();
    const bad: [string, RegExp][] = [
      ['name', /exactly one/], ['a/b/c', /exactly one/], ['/name', /organisation is empty/], ['org/', /name is empty/],
      ['org/na me', /letters, digits/], ['org/na@me', /letters, digits/], ['org/x--y', /'--'/], ['org/x..y', /'\.\.'/],
      ['org/-x', /start or end/], ['org/x.', /start or end/], ['.org/x', /start or end/], [`o/${'x'.repeat(95)}`, /at most 96/],
    ];
    for (const [id, why] of bad) expect(repoIdProblem(id), id).toMatch(why);
  });

  it('[ob:publish-card] renders front matter that YAML parses, with base_model only when known', () => {
    const input = {
      repoId: 'o/m', modelName: 'm: "quoted"', license: 'mit', pipelineTag: 'text-generation', libraryName: 'apr', tags: ['a', 'b: c'], toolVersion: 'apr 0', architecture: 'llama',
      stages: [], provenance: [], results: [], size: { parameters: 10, dtypes: { F32: 1 }, sourceBytes: 40, publishedBytes: 40 }, files: [],
    };
    const card = renderModelCard(input);
    const front = /^---\n([\s\S]*?)\n---\n/.exec(card);
    expect(front).not.toBeNull();
    expect(parse(front?.[1] ?? '')).toEqual({ license: 'mit', pipeline_tag: 'text-generation', library_name: 'apr', tags: ['a', 'b: c'] });
    const withBase = /^---\n([\s\S]*?)\n---\n/.exec(renderModelCard({ ...input, baseModel: 'org/base' }));
    expect(parse(withBase?.[1] ?? '')).toMatchObject({ base_model: 'org/base' });
  });
});
