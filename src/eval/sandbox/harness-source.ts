import { JUDGE_PY } from './harness-judge.js';

/**
 * The Python program that runs one sample inside the sandbox (passed with `python -c`, so no file of it lies
 * in the sandbox directory). It reads the job as JSON on stdin, then, before any candidate code runs:
 * remounts every filesystem read-only except the sandbox directory (mount namespace only), drops privileges
 * (uid nobody when started by real root, else every capability), sets rlimits (AS, CPU, NPROC, FSIZE, CORE,
 * NOFILE) and installs an audit hook refusing process creation, sockets, ctypes, writes outside the sandbox
 * and reads outside the system/Python directories. It reports on fd 3, one JSON line per stage, each tagged
 * with the job's nonce; a process forked from it never reports. The stages themselves are in JUDGE_PY.
 */
export const HARNESS_PY = String.raw`
import errno, json, os, resource, sys


class SandboxViolation(PermissionError):
    pass


# OS errors that mean the sandbox stopped the sample: file size, descriptors, processes, read-only mounts,
# dropped privileges, no network.
_LIMIT_ERRNOS = frozenset((errno.EFBIG, errno.EMFILE, errno.EAGAIN, errno.EROFS, errno.EACCES, errno.EPERM,
                           errno.ENETUNREACH, errno.ENETDOWN, errno.EADDRNOTAVAIL))


def _isolate(job, root):
    """Runs as (namespace) root: read-only mounts except the sandbox, then drops privileges."""
    layers = {}
    if not job['readonlyFs'] and job['drop'] == 'none':
        return layers
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if job['readonlyFs']:
        layers['readonlyFs'] = _remount_readonly(libc, ctypes, root, job.get('parentMountNs'))
    if job['drop'] == 'capabilities':
        layers['drop'] = _drop_capabilities(libc, ctypes)
    elif job['drop'] == 'setuid':
        os.setgroups([])
        os.setresgid(65534, 65534, 65534)
        os.setresuid(65534, 65534, 65534)
        layers['drop'] = 'uid %d' % os.getuid()
    # no exec may gain privileges again (setuid binaries, file capabilities)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), 'prctl(PR_SET_NO_NEW_PRIVS)')
    for name in [m for m in sys.modules if m == 'ctypes' or m.startswith('ctypes.') or m == '_ctypes']:
        del sys.modules[name]
    return layers


def _unescape_mount(path):
    return path.encode('latin-1').decode('unicode_escape') if '\\' in path else path


def _remount_readonly(libc, ctypes, root, parent_ns):
    # Never touch the mounts of the namespace that started us: only a private copy may be remounted.
    if not parent_ns or os.readlink('/proc/self/ns/mnt') == parent_ns:
        raise RuntimeError('refusing to remount: not in a private mount namespace')
    MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 262144
    KEEP = 2 | 4 | 8 | 1024 | 2048 | 4096
    def mount(source, target, flags):
        src = source.encode() if source is not None else None
        if libc.mount(src, target.encode(), None, ctypes.c_ulong(flags), None) != 0:
            raise OSError(ctypes.get_errno(), 'mount ' + target)
    mount(None, '/', MS_REC | MS_PRIVATE)
    mount(root, root, MS_BIND)
    os.chdir(root)  # enter the new rw mount; the old cwd belongs to the mount about to become read-only
    with open('/proc/self/mounts') as f:
        points = [_unescape_mount(line.split()[1]) for line in f if line.strip()]
    failed = []
    for point in points:
        if point == root:
            continue
        try:
            keep = os.statvfs(point).f_flag & KEEP
            mount(None, point, MS_REMOUNT | MS_BIND | MS_RDONLY | keep)
        except OSError:
            failed.append(point)
    return 'ok' if not failed else 'partial: ' + ' '.join(failed[:5])


def _drop_capabilities(libc, ctypes):
    PR_CAPBSET_DROP = 24
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)
    data = (ctypes.c_uint32 * 6)()
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), 'capset')
    return 'capabilities'


def _limits(lim):
    def setlim(res, soft, hard=None):
        resource.setrlimit(res, (soft, soft if hard is None else hard))
    setlim(resource.RLIMIT_AS, lim['memoryBytes'])
    setlim(resource.RLIMIT_CPU, lim['cpuSeconds'], lim['cpuSeconds'] + 1)
    setlim(resource.RLIMIT_NPROC, lim['maxProcesses'])
    setlim(resource.RLIMIT_FSIZE, lim['maxFileBytes'])
    setlim(resource.RLIMIT_CORE, 0)
    setlim(resource.RLIMIT_NOFILE, 64)


_DENY = frozenset((
    'os.system', 'os.exec', 'os.posix_spawn', 'os.spawn', 'os.fork', 'os.forkpty', 'os.kill', 'os.killpg',
    'subprocess.Popen', 'pty.spawn', 'os.startfile', 'socket.__new__', 'socket.connect', 'socket.bind',
    'socket.getaddrinfo', 'socket.gethostbyname', 'socket.gethostbyaddr', 'socket.sendto', 'socket.sendmsg',
    'gc.get_objects', 'gc.get_referrers', 'gc.get_referents', 'os.chroot', 'os.setns', 'os.unshare',
))
# foreign-function interfaces and the raw process spawner behind subprocess (no audit event of its own)
_DENY_IMPORTS = frozenset(('ctypes', '_ctypes', 'cffi', '_cffi_backend', '_posixsubprocess'))
_PATH_WRITES = {
    'os.remove': (0,), 'os.rename': (0, 1), 'os.rmdir': (0,), 'os.mkdir': (0,), 'os.link': (0, 1),
    'os.symlink': (1,), 'os.truncate': (0,), 'os.chmod': (0,), 'os.chown': (0,), 'os.utime': (0,),
    'os.chflags': (0,), 'os.lchflags': (0,), 'os.setxattr': (0,), 'os.removexattr': (0,),
    'shutil.rmtree': (0,), 'shutil.copyfile': (1,), 'shutil.copytree': (1,), 'shutil.make_archive': (0,),
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _install_hook(root, me, violations):
    reads = [root, '/usr', '/lib', '/lib32', '/lib64', '/etc', '/dev/null', '/dev/zero', '/dev/urandom',
             '/dev/random', '/proc/%d' % me]
    reads += [os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix) + tuple(sys.path) if p]
    reads = tuple(sorted(set(reads)))
    # Everything the hook uses is bound here, so rebinding names in __main__ or builtins cannot change it.
    sep, realpath, fspath = os.sep, os.path.realpath, os.fspath
    deny, deny_imports, write_flags = _DENY, _DENY_IMPORTS, _WRITE_FLAGS
    path_writes = tuple(_PATH_WRITES.items())
    path_write_events = frozenset(_PATH_WRITES)
    Violation, _isinstance, _any, _len, _repr, _bytes, _int = SandboxViolation, isinstance, any, len, repr, bytes, int
    writable = (root, '/dev/null')

    def inside(path, bases):
        p = fspath(path)
        if _isinstance(p, _bytes):
            p = p.decode('utf-8', 'surrogateescape')
        p = realpath(p)
        return _any(p == b or p.startswith(b + sep) for b in bases)

    def refuse(event, what):
        message = 'sandbox refused %s %s' % (event, what)
        if _len(violations) < 8:
            violations.append(message)
        raise Violation(message)

    def hook(event, args):
        try:
            check(event, args)
        except Violation:
            raise
        except BaseException:
            # a check that cannot run (e.g. the candidate broke a function it relies on) refuses
            refuse(event, '(could not be checked)')

    def check(event, args):
        if event in deny or event.startswith('ctypes.'):
            refuse(event, '')
        elif event == 'import':
            if args[0].split('.')[0] in deny_imports:
                refuse(event, args[0])
        elif event == 'open':
            path, flags = args[0], args[2]
            writing = (flags & write_flags) != 0
            if _isinstance(path, _int):
                if writing and path not in (1, 2):
                    refuse(event, 'fd %d for writing' % path)
            elif writing and not inside(path, writable):
                refuse(event, '%s for writing' % _repr(path))
            elif not writing and not inside(path, reads):
                refuse(event, '%s for reading' % _repr(path))
        elif event in path_write_events:
            for name, indices in path_writes:
                if name != event:
                    continue
                for i in indices:
                    if i < _len(args) and args[i] is not None and not _isinstance(args[i], _int) and not inside(args[i], (root,)):
                        refuse(event, _repr(args[i]))

    sys.addaudithook(hook)


def _short(text, n=1000):
    return text if len(text) <= n else text[:n] + '...'


def _describe(exc):
    try:
        return _short('%s: %s' % (type(exc).__name__, exc))
    except BaseException:
        return type(exc).__name__


${JUDGE_PY}

def _make_sender(channel, nonce):
    """send(msg): one JSON line on the channel, tagged with the nonce, from this process only. The encoder is
    built here from builtins and the channel's own methods, so a candidate that patches json (or anything
    else) later cannot change what is written."""
    write, flush, getpid, me = channel.write, channel.flush, os.getpid, os.getpid()
    _type, _str, _bool, _dict, _list = type, str, bool, dict, list
    escapes = dict((i, '\\u%04x' % i) for i in range(32))
    escapes.update({34: '\\"', 92: '\\\\'})

    def encode(v):
        t = _type(v)
        if t is _str:
            return '"' + v.encode('utf-8', 'replace').decode('utf-8').translate(escapes) + '"'
        if t is _bool:
            return 'true' if v else 'false'
        if v is None:
            return 'null'
        if t is _list:
            return '[' + ', '.join([encode(x) for x in v]) + ']'
        if t is _dict:
            return '{' + ', '.join([encode(_str(k)) + ': ' + encode(x) for k, x in v.items()]) + '}'
        return encode(_str(v))

    def send(msg):
        if getpid() == me:
            msg['nonce'] = nonce
            write(encode(msg) + '\n')
            flush()

    return send


def _main():
    channel = os.fdopen(3, 'w', encoding='utf-8')
    job = json.loads(sys.stdin.buffer.read().decode('utf-8'))
    sys.stdin.close()
    me = os.getpid()
    send = _make_sender(channel, job['nonce'])
    stages = _make_stages(job, send)
    root = os.path.realpath(os.getcwd())
    if '' in sys.path:
        sys.path.remove('')
    layers = _isolate(job, root)
    _limits(job['limits'])
    violations = []
    if job['auditHook']:
        _install_hook(root, me, violations)
        layers['auditHook'] = 'on'
    send({'stage': 'start', 'layers': layers})
    import builtins
    saved_builtins, saved_globals = dict(builtins.__dict__), dict(globals())
    try:
        status, detail = stages()
    except OSError as exc:
        status, detail = 'error', _describe(exc)
    except MemoryError:
        status, detail = 'error', 'MemoryError'
    # the candidate may have rebound builtins or this module's names; report with the originals
    builtins.__dict__.update(saved_builtins)
    globals().update(saved_globals)
    if violations and status != 'error':
        status, detail = 'error', 'SandboxViolation: ' + violations[0]
    if os.getpid() != me:
        os._exit(0)
    send({'stage': 'final', 'status': status, 'detail': detail})


_main()
`;
