import { describe, expect, it } from 'vitest';
import { runInSandbox, runManyInSandbox, type SandboxJob } from '../../src/eval/sandbox/index.js';

// The judge inside the harness (JUDGE_PY): the visible stage binds the entry point to the test function's
// parameter; the hidden stage compares every call with the reference solution (type and value, evalplus-style);
// nothing the candidate rebinds after the harness started changes the verdict.

const ALWAYS_EQUAL = 'class Yes:\n    def __eq__(self, other):\n        return True\n    def __ne__(self, other):\n        return False\n    __hash__ = object.__hash__\n';

/** A job whose tests are `def check(c): assert c(<arg>) == <expected>` with reference `def g(x): return <ref>`. */
function refJob(body: string, opts: { arg?: string; expected?: string; ref?: string; prelude?: string } = {}): SandboxJob {
  const arg = opts.arg ?? '[3, 1, 2]';
  return {
    program: `${opts.prelude ?? ''}\ndef g(x):\n${body}\n`,
    visibleTests: [],
    testProgram: `def check(c):\n    assert c(${arg}) == ${opts.expected ?? '[1, 2, 3]'}\n\ncheck(g)\n`,
    entryPoint: 'g',
    reference: `def g(x):\n    return ${opts.ref ?? 'sorted(x)'}\n`,
  };
}

describe.concurrent('visible stage: the entry point under the test function parameter name', () => {
  it('check(f), keyword check(fn=g), and a helper of the same name in the program stays the helper for the candidate', async () => {
    const program = 'def f(x):\n    return x + 1\n\ndef g(x):\n    return f(x) * 2\n';
    const [positional, keyword] = await runManyInSandbox([
      { program, visibleTests: ['assert f(1) == 4', 'assert f(2) == 5'], testProgram: 'def check(f):\n    assert f(1) == 4\n\ncheck(g)\n', entryPoint: 'g' },
      { program, visibleTests: ['assert fn(1) == 4'], testProgram: 'def check(fn):\n    assert fn(1) == 4\n\ncheck(fn=g)\n', entryPoint: 'g' },
    ], 2);
    expect(positional?.visible).toEqual([{ passed: true, output: '4' }, { passed: false, output: '6' }]);
    expect(positional?.status).toBe('passed');
    expect(keyword?.visible).toEqual([{ passed: true, output: '4' }]);
  });
});

describe.concurrent('hidden stage: every call compared with the reference solution', () => {
  it('a correct sample passes; always-equal objects, alone, in a list, as dict keys or an int subclass, fail', async () => {
    const rs = await runManyInSandbox([
      refJob('    return sorted(x)'),
      refJob('    return Yes()', { prelude: ALWAYS_EQUAL }),
      refJob('    return [Yes(), Yes(), Yes()]', { prelude: ALWAYS_EQUAL }),
      refJob('    return {Yes(): 1}', { prelude: ALWAYS_EQUAL, ref: '{3: 1}', expected: '{3: 1}' }),
      refJob('    return I(6)', { prelude: 'class I(int):\n    def __eq__(self, o):\n        return True\n    __hash__ = int.__hash__\n', ref: 'sum(x)', expected: '6' }),
      refJob('    return tuple(sorted(x))', { expected: '(1, 2, 3)' }),
    ], 3);
    expect(rs.map((r) => r.status)).toEqual(['passed', 'failed', 'failed', 'failed', 'failed', 'failed']);
    expect(rs.slice(1).map((r) => r.detail)).toEqual([
      'ReferenceMismatch: g([3, 1, 2]) returned Yes, the reference returned list',
      'ReferenceMismatch: g([3, 1, 2]) returned Yes, the reference returned int (at [0])',
      'ReferenceMismatch: g([3, 1, 2]) returned dict with non-builtin items, the reference returned dict',
      'ReferenceMismatch: g([3, 1, 2]) returned I, the reference returned int',
      'ReferenceMismatch: g([3, 1, 2]) returned tuple, the reference returned list',
    ]);
  });

  it('floats within atol 1e-6 + rtol 1e-7 of the reference pass, an equal int passes, beyond fails; where the reference raises, so must the sample', async () => {
    const float = (body: string): SandboxJob => refJob(body, { arg: '2.0', ref: 'x / 3', expected: 'c(2.0)' });
    const rs = await runManyInSandbox([
      float('    return x / 3 + 5e-7'),
      float('    return x / 3 + 1e-5'),
      refJob('    return 6', { arg: '[1, 2, 3]', ref: 'float(sum(x))', expected: '6' }),
      refJob('    return -1', { arg: '[]', ref: 'max(x)', expected: '-1' }),
      { ...refJob('    return max(x)', { arg: '[]', ref: 'max(x)' }), testProgram: 'def check(c):\n    try:\n        c([])\n    except ValueError:\n        pass\n\ncheck(g)\n' },
    ], 3);
    expect(rs.map((r) => r.status)).toEqual(['passed', 'failed', 'passed', 'failed', 'passed']);
    expect(rs[1]?.detail).toMatch(/^ReferenceMismatch: g\(2\.0\) returned 0\.66667\d*, the reference returned 0\.6666\d*$/);
    expect(rs[3]?.detail).toBe('ReferenceMismatch: g([]) returned int, the reference raised ValueError');
  });

  it('the reference sees the arguments as the test passed them, even when the sample mutates them', async () => {
    const r = await runInSandbox(refJob('    x.append(0)\n    return sorted(x[:-1])'));
    expect(r.status).toBe('passed');
  });

  it('arguments that cannot be copied are left to the tests; a value that cannot be compared is a mismatch', async () => {
    const generator = { ...refJob('    return sum(x)', { ref: 'sum(x)' }), testProgram: 'def check(c):\n    assert c(i for i in range(4)) == 6\n\ncheck(g)\n' };
    const cycle = { ...refJob('    a = [x]\n    a.append(a)\n    return a', { ref: '(lambda a: (a.append(a), a)[1])([x])' }), testProgram: 'def check(c):\n    try:\n        c(1)\n    except Exception:\n        pass\n\ncheck(g)\n' };
    const [gen, cyc] = await runManyInSandbox([generator, cycle], 2);
    expect(gen?.status).toBe('passed');
    expect(cyc?.status).toBe('failed');
    expect(cyc?.detail).toBe('ReferenceMismatch: g(1) returned a value that could not be compared (RecursionError)');
  });

  it('a test that swallows exceptions does not hide a mismatch; a broken reference is an error', async () => {
    const swallow = { ...refJob('    return Yes()', { prelude: ALWAYS_EQUAL }), testProgram: 'def check(c):\n    try:\n        assert c([1]) == [1]\n    except Exception:\n        pass\n\ncheck(g)\n' };
    const [hidden, broken] = await runManyInSandbox([swallow, { ...refJob('    return sorted(x)'), reference: 'def h(x):\n    return x\n' }], 2);
    expect(hidden?.status).toBe('failed');
    expect(hidden?.detail).toMatch(/^ReferenceMismatch: g\(\[1\]\) returned Yes/);
    expect(broken?.status).toBe('error');
    expect(broken?.detail).toBe('reference solution: LookupError: defines no function g');
  });
});

describe.concurrent('what the candidate rebinds after the harness started does not change the verdict', () => {
  const wrong = (prelude: string): SandboxJob => refJob('    return [0]', { prelude });

  it('builtins.exec, json.dumps, copy.deepcopy, the harness module names, and a redefined check', async () => {
    const rs = await runManyInSandbox([
      wrong('import builtins\nbuiltins.exec = lambda *a, **k: None\n'),
      wrong("import json\n_d = json.dumps\njson.dumps = lambda m, *a, **k: _d({**m, 'status': 'passed', 'detail': ''} if m.get('stage') == 'final' else m)\n"),
      { ...refJob('    return Yes()', { prelude: `${ALWAYS_EQUAL}import copy, __main__\ncopy.deepcopy = lambda *a: 1 / 0\n__main__._make_compare = lambda *a: (lambda o, e: None)\n` }) },
      { ...wrong('def check(c):\n    pass\n'), visibleTests: ['assert c([3, 1, 2]) == [1, 2, 3]'] },
    ], 4);
    expect(rs.map((r) => r.status)).toEqual(['failed', 'failed', 'failed', 'failed']);
    expect(rs[2]?.detail).toMatch(/^ReferenceMismatch: g\(\[3, 1, 2\]\) returned Yes/);
    expect(rs[3]?.visible).toEqual([{ passed: false, output: '[0]' }]);
  });
});
