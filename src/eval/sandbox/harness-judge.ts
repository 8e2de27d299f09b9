/**
 * The judging part of the sandbox harness (Python, spliced into HARNESS_PY): the visible stage (single asserts
 * for rerankers, with the entry point bound to the test function's parameter, whatever it is called) and the
 * hidden stage (the test program, with every call of the entry point compared against the reference solution
 * called with the same arguments: the candidate's value must have the reference output's type and value, with
 * evalplus's tolerance for floats). Everything a stage uses is taken before any candidate code runs, so a
 * candidate that rebinds builtins (exec, compile, type, ...), this module's names or library functions cannot
 * change how it is judged.
 */
export const JUDGE_PY = String.raw`
def _is_name(ast, node, name):
    return isinstance(node, ast.Name) and node.id == name


def _bound_names(ast, tests, entry):
    """The names the visible asserts may call the entry point by: 'candidate', and the parameter of each test
    function that the test program calls with the entry point (HumanEval's harness calls check(entry_point)
    positionally, whatever check's parameter is called; a keyword argument binds its keyword)."""
    names = ['candidate']
    try:
        tree = ast.parse(tests)
    except Exception:
        return names
    defs = dict((st.name, st.args) for st in tree.body if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)))
    calls = [st.value for st in tree.body if isinstance(st, ast.Expr) and isinstance(st.value, ast.Call)]
    for call in calls:
        sig = defs.get(call.func.id) if isinstance(call.func, ast.Name) else None
        if sig is None:
            continue
        params = [a.arg for a in sig.posonlyargs + sig.args]
        names += [params[i] for i, a in enumerate(call.args) if i < len(params) and _is_name(ast, a, entry)]
        names += [kw.arg for kw in call.keywords if kw.arg and _is_name(ast, kw.value, entry)]
    return names


def _prepare_visible(ast, src):
    """One visible assert, compiled before any candidate code runs: ('compare', left, test) for an assert of a
    comparison (the left side's value is reported), ('exec', code) for any other, ('bad', output) if unparsable."""
    try:
        tree = ast.parse(src)
        st = tree.body[0] if len(tree.body) == 1 else None
        if isinstance(st, ast.Assert) and isinstance(st.test, ast.Compare):
            left = compile(ast.Expression(st.test.left), '<visible>', 'eval')
            test = ast.Compare(left=ast.Name('__apr_left__', ast.Load()), ops=st.test.ops, comparators=st.test.comparators)
            return ('compare', left, compile(ast.fix_missing_locations(ast.Expression(test)), '<visible>', 'eval'))
        return ('exec', compile(tree, '<visible>', 'exec'))
    except Exception as exc:
        return ('bad', '!' + _describe(exc))


def _make_compare(fabs, short):
    """diff(out, exp): None when the candidate's value conforms to the reference's, else (what out is, what exp
    is, where). As evalplus: equal values, floats within atol 1e-6 + rtol 1e-7, an int equal to a float result
    accepted; and the types must match all the way down (builtin containers are walked; dict keys and set items
    must be builtin values), so no comparison ever runs an __eq__ of the candidate's."""
    _type, _len, _repr, _getattr, _all, _enumerate, _zip = type, len, repr, getattr, all, enumerate, zip
    exact = frozenset((type(None), bool, int, str, bytes, complex))
    numbers = frozenset((int, float))

    def plain(x):
        t = _type(x)
        return t in exact or t is float or (t in (tuple, frozenset) and _all(plain(i) for i in x))

    def name(t):
        return _getattr(t, '__qualname__', '?')

    def same_type(to, te):
        # a class the prompt defines exists twice: the candidate's copy stands for the reference's
        return to is te or (_getattr(te, '__module__', None) == '__reference__' and _getattr(to, '__module__', None) == '__candidate__' and name(to) == name(te))

    def values(out, exp):
        return (short(_repr(out), 200), short(_repr(exp), 200), '')

    def items(pairs):
        for where, a, b in pairs:
            d = diff(a, b)
            if d is not None:
                return (d[0], d[1], where + d[2])
        return None

    def container(out, exp, te):
        if te is list or te is tuple:
            if _len(out) != _len(exp):
                return ('length %d' % _len(out), 'length %d' % _len(exp), '')
            return items(('[%d]' % i, a, b) for i, (a, b) in _enumerate(_zip(out, exp)))
        if not _all(plain(k) for k in out):
            return ('%s with non-builtin items' % name(te), name(te), '')
        if te is dict:
            if out.keys() != exp.keys():
                return values(sorted(out, key=_repr), sorted(exp, key=_repr))
            return items(('[%s]' % short(_repr(k), 40), out[k], exp[k]) for k in exp)
        return None if out == exp else values(out, exp)

    def diff(out, exp):
        to, te = _type(out), _type(exp)
        if to in numbers and te in numbers and to is not te:
            return None if out == exp else values(out, exp)
        if not same_type(to, te) or _getattr(te, '__module__', None) == '__candidate__':
            return (name(to), name(te), '')
        if te is float:
            close = out == exp or fabs(out - exp) <= 1e-6 + 1e-7 * fabs(exp) or (out != out and exp != exp)
            return None if close else values(out, exp)
        if te in exact:
            return None if out == exp else values(out, exp)
        if te in (list, tuple, dict, set, frozenset):
            return container(out, exp, te)
        return None  # another type: the same type is required, its value is left to the tests

    return diff


def _make_conforming(diff, deepcopy, short):
    """conforming(fn, ref, entry, failures): fn wrapped so that every call also calls the reference with a deep
    copy of the same arguments (before fn, which may mutate them) and records the first call whose value does
    not conform (or cannot be compared). Recorded, not raised: a test that catches exceptions cannot hide it."""
    _type, _repr, _BaseException, Violation, _MemoryError = type, repr, BaseException, SandboxViolation, MemoryError

    def reference(ref, args, kwargs):
        try:
            return (True, ref(*args, **kwargs))
        except (Violation, _MemoryError):
            raise
        except _BaseException as exc:
            return (False, _type(exc).__name__)

    def text(entry, args, kwargs):
        try:
            shown = [short(_repr(a), 80) for a in args] + ['%s=%s' % (k, short(_repr(v), 80)) for k, v in kwargs.items()]
            return '%s(%s)' % (entry, ', '.join(shown))
        except _BaseException:
            return entry + '(...)'

    def verdict(out, expected):
        if not expected[0]:
            return 'returned %s, the reference raised %s' % (_type(out).__qualname__, expected[1])
        d = diff(out, expected[1])
        return None if d is None else 'returned %s, the reference returned %s%s' % (d[0], d[1], ' (at %s)' % d[2] if d[2] else '')

    def judged(out, expected):
        try:
            return verdict(out, expected)
        except (Violation, _MemoryError):
            raise
        except _BaseException as exc:
            return 'returned a value that could not be compared (%s)' % _type(exc).__name__

    def conforming(fn, ref, entry, failures):
        def call(*args, **kwargs):
            try:
                copied = deepcopy((args, kwargs))
            except (Violation, _MemoryError):
                raise
            except _BaseException:
                # arguments that cannot be copied (a generator): the reference would see them used up
                return fn(*args, **kwargs)
            expected = reference(ref, copied[0], copied[1])
            out = fn(*args, **kwargs)
            why = judged(out, expected)
            if why is not None and not failures:
                failures.append('%s %s' % (text(entry, args, kwargs), why))
            return out
        return call

    return conforming


def _make_stages(job, send):
    """run() -> (status, detail): the visible stage (reported through send) then the hidden stage. Built before
    any candidate code runs; the candidate's program itself is compiled in run(), under the limits."""
    import copy, math
    ast = None
    if job['visibleTests']:
        import ast
    _exec, _eval, _compile, _dict, _type, _bool, _repr, _isinstance, _callable = exec, eval, compile, dict, type, bool, repr, isinstance, callable
    BaseExc, Exc, AssertErr, SyntaxErr, MemErr, OSErr = BaseException, Exception, AssertionError, SyntaxError, MemoryError, OSError
    Violation, limit_errnos, describe, builtins_module = SandboxViolation, _LIMIT_ERRNOS, _describe, __builtins__
    function, short = _type(_describe), _short
    entry, reference = job['entryPoint'], job.get('reference') or ''
    conforming = _make_conforming(_make_compare(math.fabs, _short), copy.deepcopy, _short)
    bound = _bound_names(ast, job['testProgram'], entry) if ast is not None and entry else ['candidate']
    visible = [_prepare_visible(ast, t) for t in job['visibleTests']]
    try:
        tests, tests_error = _compile(job['testProgram'], 'tests.py', 'exec'), None
    except Exc as exc:
        tests, tests_error = None, describe(exc)

    def fresh(name):
        return {'__name__': name, '__builtins__': builtins_module}

    def load_reference():
        if not reference:
            return None
        ns = fresh('__reference__')
        _exec(_compile(reference, 'reference.py', 'exec'), ns)
        fn = ns.get(entry)
        if not _callable(fn):
            raise LookupError('defines no function %s' % entry)
        # an entry point that is a class: its instances are left to the tests
        return fn if _isinstance(fn, function) else None

    def one_visible(prep, view):
        if prep[0] == 'bad':
            return {'passed': False, 'output': prep[1]}
        output = None
        try:
            if prep[0] == 'exec':
                _exec(prep[1], view)
                return {'passed': True, 'output': None}
            value = _eval(prep[1], view)
            try:
                output = short(_repr(value), 2000)
            except Exc as exc:
                output = '!' + _type(exc).__name__
            view['__apr_left__'] = value
            return {'passed': _bool(_eval(prep[2], view)), 'output': output}
        except AssertErr:
            return {'passed': False, 'output': output}
        except Violation:
            raise
        except BaseExc as exc:
            return {'passed': False, 'output': output if output is not None else '!' + _type(exc).__name__}

    def visible_stage(program):
        ns = fresh('__candidate__')
        try:
            _exec(program, ns)
            # the asserts see the entry point under the test function's parameter name; the candidate's own
            # functions keep their globals (a helper of the same name is not shadowed for them)
            view = _dict(ns)
            if entry and entry in ns:
                view.update((n, ns[entry]) for n in bound)
            results = [one_visible(p, _dict(view)) for p in visible]
        except Violation:
            raise
        except BaseExc as exc:
            results = [{'passed': False, 'output': '!' + _type(exc).__name__} for _ in visible]
        send({'stage': 'visible', 'visible': results})

    def hidden_run(program, ref, failures):
        ns = fresh('__candidate__')
        try:
            _exec(program, ns)
            view = ns
            if ref is not None and entry in ns and _callable(ns[entry]):
                view = _dict(ns)
                view[entry] = conforming(ns[entry], ref, entry, failures)
            _exec(tests, view)
        except (Violation, MemErr):
            raise
        except OSErr as exc:
            if exc.errno in limit_errnos:
                raise
            return ('failed', describe(exc))
        except BaseExc as exc:
            return ('failed', describe(exc))
        return ('passed', '')

    def hidden_stage(program, ref):
        # a call that did not conform is the first fault, whatever the tests did after it
        failures = []
        verdict = hidden_run(program, ref, failures)
        return ('failed', 'ReferenceMismatch: ' + failures[0]) if failures else verdict

    def run():
        try:
            program = _compile(job['program'], 'solution.py', 'exec')
        except (SyntaxErr, ValueError) as exc:
            return ('failed', describe(exc))
        if tests is None:
            return ('failed', tests_error)
        try:
            ref = load_reference()
        except (Violation, MemErr):
            raise
        except BaseExc as exc:
            return ('error', 'reference solution: ' + describe(exc))
        if visible:
            visible_stage(program)
        return hidden_stage(program, ref)

    return run
`;
