/**
 * The IQ lookup tables: src/tensor/codecs/iq-tables.ts must be exactly what scripts/gen-iq-tables.ts makes
 * from llama.cpp's ggml-common.h (when a llama.cpp source tree is present), the generator must read C table
 * literals as ggml lays them out in memory, and iq-grids.ts must decode every table to count × width bytes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IQ_TABLE_SPECS, generateIqTables } from '../../scripts/gen-iq-tables.js';
import { iqTable, iqTableSigned } from '../../src/tensor/codecs/iq-grids.js';

const src = [process.env['APR_LLAMA_CPP_SRC'], '.llama-cpp/src', '../llama-cpp/src', '.cache/llama-cpp/src'].find((d): d is string => d !== undefined && existsSync(join(d, 'ggml/src/ggml-common.h')));

/** A ggml-common.h with every table the generator wants, filled with `fill(i)` for entry i. */
function header(fill: (name: string, i: number) => string, drop?: string): string {
  return IQ_TABLE_SPECS.filter(([name]) => name !== drop).map(([name, type, count]) =>
    `GGML_TABLE_BEGIN(${type}, ${name}, ${count})\n    ${Array.from({ length: count }, (_v, i) => fill(name, i)).join(', ')}, // trailing comment\nGGML_TABLE_END()\n`).join('\n');
}

describe('generated IQ tables', () => {
  it.skipIf(src === undefined)('iq-tables.ts equals the generator\'s output for llama.cpp\'s ggml-common.h', () => {
    const h = readFileSync(join(src ?? '', 'ggml/src/ggml-common.h'), 'utf8');
    expect(generateIqTables(h)).toBe(readFileSync('src/tensor/codecs/iq-tables.ts', 'utf8'));
  });

  it('iq-grids decodes each table to count × width bytes, with ggml\'s first entries', () => {
    const width: Record<string, number> = { uint8_t: 1, int8_t: 1, uint32_t: 4, uint64_t: 8 };
    for (const [name, type, count] of IQ_TABLE_SPECS) expect(iqTable(name).length).toBe(count * (width[type] ?? 0));
    // kvalues_iq4nl (ggml-common.h / gguf-py): −127, −104, …, 113; iq2xxs_grid[1] = 0x080808080808082b (LE: 0x2b first)
    expect(Array.from(iqTableSigned('kvalues_iq4nl'))).toEqual([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]);
    expect(Array.from(iqTable('iq2xxs_grid').subarray(8, 16))).toEqual([0x2b, 8, 8, 8, 8, 8, 8, 8]);
    expect(Array.from(iqTableSigned('iq1s_grid').subarray(0, 8))).toEqual(Array(8).fill(-1));
  });

  it('the generator writes little-endian entries and two\'s complement negatives, and rejects malformed tables', () => {
    const text = generateIqTables(header((name, i) => (name === 'kvalues_iq4nl' ? String(-1 - i) : `0x${(i + 1).toString(16)}`)));
    const b64 = /iq3xxs_grid: \{[^}]*base64: '([^']*)'/.exec(text)?.[1] ?? '';
    expect(Array.from(Buffer.from(b64, 'base64').subarray(0, 8))).toEqual([1, 0, 0, 0, 2, 0, 0, 0]);
    const kv = /kvalues_iq4nl: \{[^}]*base64: '([^']*)'/.exec(text)?.[1] ?? '';
    expect(Array.from(Buffer.from(kv, 'base64').subarray(0, 3))).toEqual([255, 254, 253]);
    expect(() => generateIqTables(header(() => '1', 'iq2s_grid'))).toThrow(/iq2s_grid .*not found/);
    expect(() => generateIqTables(header((n, i) => (n === 'ksigns_iq2xs' && i === 0 ? '256' : '1')))).toThrow(/256 does not fit 1 byte/);
    expect(() => generateIqTables(header((n, i) => (n === 'ksigns_iq2xs' && i === 0 ? 'x' : '1')))).toThrow(/not an integer literal/);
    expect(() => generateIqTables(header(() => '1').replace(/(ksigns_iq2xs, 128\)\n {4})1, /, '$1'))).toThrow(/127 entries, expected 128/);
  });
});

if (src === undefined) {
  describe('generated IQ tables vs llama.cpp', () => {
    it.skip('skipped: llama.cpp source (ggml/src/ggml-common.h) not found: set APR_LLAMA_CPP_SRC', () => undefined);
  });
}
