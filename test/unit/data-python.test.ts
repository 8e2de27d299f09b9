/** Python function/class extraction for `apr data prep`. */
import { describe, expect, it } from 'vitest';
import { extractUnits } from '../../src/data/python.js';

const SRC = [
  'import os',
  '',
  '@cache',
  '@route("/x",',
  '       methods=["GET"])',
  'async def fetch(url: str,',
  '                timeout: int = 3) -> bytes:',
  '    r"""Fetch a URL.',
  '',
  '        Indented detail.',
  '    """',
  '    text = """',
  'def not_a_function():',
  '"""',
  '    def helper(x):',
  "        '''Help.'''",
  '        return x  # def also_not(): comment',
  '',
  '    return text',
  '',
  'class Shape(Base):',
  '    "Docstring in plain quotes."',
  '    def area(self):',
  '        return 0',
  '',
  'def bare():',
  '    return 1',
].join('\n');

describe('extractUnits', () => {
  const units = extractUnits(SRC);
  it('finds defs, async defs, classes and nested defs, not defs inside strings', () => {
    expect(units.map((u) => `${u.kind}:${u.name}:${u.line}`)).toEqual(['function:fetch:6', 'function:helper:15', 'class:Shape:21', 'function:area:23', 'function:bare:26']);
  });
  it('takes multi-line decorators and signatures, and triple-quoted docstrings', () => {
    const f = units[0];
    expect(f?.signature).toBe('fetch(url: str, timeout: int = 3) -> bytes');
    expect(f?.docstring).toBe('Fetch a URL.\n\nIndented detail.');
    expect(f?.source.split('\n')[0]).toBe('@cache');
    expect(f?.source.split('\n').at(-1)).toBe('    return text');
    expect(f?.lines).toBe(17);
  });
  it('dedents nested units and reads plain-quoted docstrings; no docstring gives empty', () => {
    expect(units[1]?.source).toBe("def helper(x):\n    '''Help.'''\n    return x  # def also_not(): comment");
    expect(units[2]?.docstring).toBe('Docstring in plain quotes.');
    expect(units[3]?.docstring).toBe('');
    expect(units[4]?.source).toBe('def bare():\n    return 1');
  });
});
