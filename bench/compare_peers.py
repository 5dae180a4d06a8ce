#!/usr/bin/env python3
"""bench/compare_peers.sh driver: ringmail vs Postfix smtp-sink, ringmail-floor, aiosmtpd and npm smtp-server on loopback.

ringmail-floor (bench/floor/) is our null server written directly on liburing: the same io_uring design
with nothing but socket I/O and canned replies, so ringmail / floor is what our layers cost over the
kernel. Every ringmail figure is also printed as a ratio to it, beside the ratio to smtp-sink.

Run through bench/compare_peers.sh (which installs the peers); see the usage text there and docs/BENCHMARKS.md.

Per cell and per server: a fresh server on a free loopback port, a short warm-up (not counted), then
one measured run of one generator (ringmail-bench, or Postfix's smtp-source). Measured:
  msgs/s          messages accepted / wall seconds of the measured run
  CPU s/10k       utime+stime of the server's whole process tree (/proc/PID/stat, every thread and
                  every live child), sampled just before and after the generator, per 10,000 messages
  peak RSS        VmHWM of the server tree (/proc/PID/status) at the end of the cell
  gen us/msg      the generator's own CPU (rusage from wait4) per message
then, per server: RSS (and PSS) per idle connection with N idle connections that have read the
greeting, and p99 latency at a fixed open-loop rate (half of smtp-sink's closed-loop peak in the same
cell shape). Every run is bounded in messages and seconds; every process started is stopped by PID.
"""
import argparse
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
CLK_TCK = os.sysconf('SC_CLK_TCK')
PAGE = os.sysconf('SC_PAGE_SIZE')

# ringmail with settings of its own, not in the default set: ringmail-mime with `mime = on`
# (the split made for every message, as a handler that reads it gets; the default, mime = auto,
# makes none for discard); ringmail-batch with completion batching (32 completions or 200 us).
RINGMAIL_VARIANTS = {'ringmail': [], 'ringmail-mime': ['--set', 'mime=on'],
                     'ringmail-batch': ['--set', 'completion_batch=32/200']}
SERVERS = ['smtp-sink', 'ringmail', 'floor', 'aiosmtpd', 'smtp-server', 'ringmail-mime', 'ringmail-batch']
DEFAULT_SERVERS = ['smtp-sink', 'ringmail', 'floor', 'aiosmtpd', 'smtp-server']
SHORT = {'smtp-sink': 'sink', 'ringmail': 'ringmail', 'ringmail-mime': 'rm-mime', 'ringmail-batch': 'rm-batch', 'floor': 'floor', 'aiosmtpd': 'aiosmtpd',
         'smtp-server': 'smtp-server'}
# the generator variants, in the order the floor table lists them
LOADS = (('ss', 'smtp-source'), ('rb', 'ringmail-bench lock-step'), ('rb-pipe', 'ringmail-bench --pipelining'))

# ---------------------------------------------------------------------------------------------------
# processes

LIVE = {}  # pid -> Popen of every server still running


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def stop_proc(p, grace=10.0):
    if p.poll() is None:
        try:
            p.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
    LIVE.pop(p.pid, None)
    return p.returncode


def cleanup(*_):
    for p in list(LIVE.values()):
        try:
            stop_proc(p, 3)
        except Exception:
            pass


def on_signal(signum, _frame):
    cleanup()
    sys.exit(128 + signum)


def tree(pid):
    """pid and every live descendant (threads are inside /proc/PID/stat already)."""
    out, todo = [], [pid]
    while todo and len(out) < 10000:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir('/proc/%d/task' % p):
                with open('/proc/%d/task/%s/children' % (p, t)) as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def tree_cpu(pid):
    """seconds of CPU over the process tree: each live thread's run time from
    /proc/PID/task/TID/schedstat (nanoseconds; utime and stime move in 10 ms ticks, coarse
    beside a run of a second or two), plus the reaped children's cutime and cstime. A thread
    that ends during a run takes its time with it: the servers measured keep theirs."""
    ns, ticks = 0, 0
    for p in tree(pid):
        try:
            with open('/proc/%d/stat' % p) as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rindex(')') + 2:].split()
        ticks += int(fields[13]) + int(fields[14])  # cutime cstime
        try:
            tids = os.listdir('/proc/%d/task' % p)
        except OSError:
            tids = []
        for t in tids:
            try:
                with open('/proc/%d/task/%s/schedstat' % (p, t)) as f:
                    ns += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    return ns / 1e9 + ticks / CLK_TCK


def tree_status(pid, key):
    """sum of a /proc/PID/status field (kB) over the tree."""
    total = 0
    for p in tree(pid):
        try:
            with open('/proc/%d/status' % p) as f:
                for line in f:
                    if line.startswith(key + ':'):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def tree_pss(pid):
    total = 0
    for p in tree(pid):
        try:
            with open('/proc/%d/smaps_rollup' % p) as f:
                for line in f:
                    if line.startswith('Pss:'):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def run_gen(cmd, timeout, out_path):
    """runs a generator; returns (rc, wall_s, cpu_s of that child alone, timed_out)."""
    with open(out_path, 'wb') as out:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        fired = []

        def kill():
            fired.append(1)
            try:
                p.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - t0
    return p.returncode, wall, ru.ru_utime + ru.ru_stime, bool(fired)


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, name, cfg):
        self.name, self.cfg = name, cfg
        self.log = os.path.join(cfg.work, 'server-%s.log' % name)
        self.proc, self.port = None, None

    def start(self):
        c = self.cfg
        logf = open(self.log, 'wb')
        port_from_log = True
        if self.name in RINGMAIL_VARIANTS:
            cmd = [c.ringmail, 'serve', '--config', os.path.join(c.work, 'ringmail.ini'), '--init', '--port', '0',
                   '--handler', 'discard'] + RINGMAIL_VARIANTS[self.name]
        elif self.name == 'floor':
            cmd = [c.floor, '--listen', '127.0.0.1:0']  # one thread per core; prints the port
        elif self.name == 'smtp-sink':
            self.port = free_port()
            cmd = [c.smtp_sink] + (['-u', 'nobody'] if os.geteuid() == 0 else []) + \
                  ['-m', '20000', '127.0.0.1:%d' % self.port, '1000']  # -m: its default cap is 256 clients
            port_from_log = False
        elif self.name == 'aiosmtpd':
            cmd = [c.sys_python, os.path.join(ROOT, 'bench/peers/aiosmtpd-sink.py'), '0']
        elif self.name == 'smtp-server':
            cmd = ['node', os.path.join(ROOT, 'bench/peers/smtp-server-sink.js'), '0']
        else:
            raise ValueError(self.name)
        env = dict(os.environ)
        env['NODE_PATH'] = os.path.join(c.node_dir, 'node_modules')
        self.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        logf.close()
        LIVE[self.proc.pid] = self.proc
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if port_from_log:
                with open(self.log, errors='replace') as f:
                    for line in f:
                        if 'listening on 127.0.0.1:' in line:
                            self.port = int(line.split('127.0.0.1:')[1].split()[0])
                            return
            else:
                try:
                    socket.create_connection(('127.0.0.1', self.port), 0.5).close()
                    time.sleep(0.05)
                    return
                except OSError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError('%s did not start: %s' % (self.name, self.tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def tail(self):
        try:
            with open(self.log, errors='replace') as f:
                return ' | '.join(f.read().strip().splitlines()[-5:])
        except OSError:
            return ''

    def stop(self):
        rc = None
        if self.proc is not None:
            rc = stop_proc(self.proc)
            self.proc = None
        return rc


# ---------------------------------------------------------------------------------------------------
# generators

def rb_cmd(cfg, port, size, rcpts, conns, per_conn, pipe, messages, duration, rate=None):
    cmd = [cfg.bench, '--port', str(port), '--connections', str(conns),
           '--transactions-per-connection', str(per_conn), '--size', str(size),
           '--recipients', str(rcpts), '--messages', str(messages), '--duration', '%g' % duration, '--json']
    if pipe:
        cmd.append('--pipelining')
    if rate:
        cmd += ['--rate', '%g' % rate]
    return cmd


def start_syscalls(cfg, srv, tag):
    """With --syscalls: `perf stat` counts the server's system calls (every thread) while a generator
    runs. Tracepoint counting costs the server a little CPU per call, so CPU figures of such a run
    include it for every server alike."""
    if not cfg.syscalls:
        return None
    out = os.path.join(cfg.work, 'perf-%s.csv' % tag)
    p = subprocess.Popen(['perf', 'stat', '-x', ',', '-e', 'raw_syscalls:sys_enter', '-p', str(srv.proc.pid),
                          '-o', out], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    LIVE[p.pid] = p
    time.sleep(0.3)  # attached before the load starts
    return p, out


def stop_syscalls(handle):
    if not handle:
        return None
    p, out = handle
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    LIVE.pop(p.pid, None)
    try:
        with open(out) as f:
            for line in f:
                parts = line.strip().split(',')
                if len(parts) > 2 and 'raw_syscalls:sys_enter' in parts[2] and parts[0].isdigit():
                    return int(parts[0])
    except OSError:
        pass
    return None


def run_rb(cfg, srv, cell, pipe, tag, rate=None, duration=None):
    size, rcpts, conns, per_conn = cell
    duration = duration or cfg.duration
    messages = cfg.max_messages if rate is None else int(rate * duration * 2) + 10
    cmd = rb_cmd(cfg, srv.port, size, rcpts, conns, per_conn, pipe, messages, duration, rate)
    out = os.path.join(cfg.work, 'gen-%s.out' % tag)
    sc = start_syscalls(cfg, srv, tag) if rate is None else None
    cpu0 = tree_cpu(srv.proc.pid)
    rc, wall, gcpu, killed = run_gen(cmd, duration + 40, out)
    cpu1 = tree_cpu(srv.proc.pid)
    res = {'gen': 'ringmail-bench', 'cmd': ' '.join(cmd[1:]), 'rc': rc, 'wall_s': wall, 'gen_cpu_s': gcpu,
           'server_cpu_s': cpu1 - cpu0, 'errors': [], 'syscalls': stop_syscalls(sc)}
    try:
        with open(out) as f:
            text = f.read()
        j = json.loads(text[text.index('{'):])
    except (ValueError, OSError):
        res['errors'].append('no JSON from ringmail-bench (rc %s): %s' % (rc, open(out, errors='replace').read()[-300:]))
        res['messages'] = 0
        return res
    res['messages'] = j['messages_ok']
    res['elapsed_s'] = j['elapsed_s']
    res['p99_ms'] = j['latency_us']['p99'] / 1000.0 if j['latency_us'].get('count') else None
    res['p50_ms'] = j['latency_us']['p50'] / 1000.0 if j['latency_us'].get('count') else None
    res['pipelined_sessions'] = j.get('sessions_with_pipelining')
    res['sessions'] = j.get('sessions')
    res['offered_rate'] = rate
    if j.get('messages_failed') or j.get('connection_errors') or j.get('errors') or killed:
        res['errors'].append('failed %s, connection errors %s, replies %s%s' % (
            j.get('messages_failed'), j.get('connection_errors'), j.get('errors'), ', killed' if killed else ''))
    return res


def run_ss(cfg, srv, cell, tag, est_rate):
    """smtp-source, repeated invocations of one chunk until cfg.duration has passed.

    x1 cells: no -d, a chunk of N messages each on its own connection, N sized from est_rate.
    x100 cells: -d, a chunk of 100 x sessions (100 messages per session), unless that would take more
    than 3 x duration at est_rate; then fewer per session (recorded as msgs_per_session)."""
    size, rcpts, conns, per_conn = cell
    est = max(est_rate or 0, 50.0)
    if per_conn == 1:
        chunk = int(min(max(est * cfg.duration / 3, conns), cfg.max_messages))
        chunk = max(conns, chunk - chunk % conns)
        per_session = 1
    else:
        chunk = per_conn * conns
        if chunk / est > 3 * cfg.duration:
            chunk = max(conns, int(est * 3 * cfg.duration) // conns * conns)
        per_session = chunk // conns
    base = [cfg.smtp_source] + (['-d'] if per_conn > 1 else []) + [
        '-c', '-l', str(size), '-m', str(chunk), '-s', str(conns), '-r', str(rcpts),
        '-f', 'a@example.com', '-t', 'b@example.com', '127.0.0.1:%d' % srv.port]
    total, gcpu, errors, runs = 0, 0.0, [], 0
    sc = start_syscalls(cfg, srv, tag)
    cpu0 = tree_cpu(srv.proc.pid)
    t0 = time.monotonic()
    hard = max(6 * cfg.duration, chunk / est * 2) + 20
    while True:
        out = os.path.join(cfg.work, 'gen-%s-%d.out' % (tag, runs))
        rc, _, c, killed = run_gen(base, hard - (time.monotonic() - t0) + 1, out)
        runs += 1
        gcpu += c
        with open(out, 'rb') as f:
            text = f.read().decode(errors='replace')
        counts = [int(x) for x in text.replace('\n', '\r').split('\r') if x.strip().isdigit()]
        done = counts[-1] if counts else 0
        total += done if (rc != 0 or killed) else chunk
        if rc != 0 or killed:
            msg = text.replace('\r', ' ').strip().splitlines()
            errors.append('smtp-source rc %s%s after %d of %d: %s' % (
                rc, ' (killed at the time bound)' if killed else '', done, chunk, msg[-1][-200:] if msg else ''))
            break
        el = time.monotonic() - t0
        if el >= cfg.duration or total >= cfg.max_messages or runs >= 1000:
            break
    wall = time.monotonic() - t0
    cpu1 = tree_cpu(srv.proc.pid)
    syscalls = stop_syscalls(sc)
    return {'syscalls': syscalls, 'gen': 'smtp-source', 'cmd': ' '.join(base[1:]).replace(str(srv.port), 'PORT') + ' (x%d)' % runs,
            'rc': 0 if not errors else 1, 'wall_s': wall, 'elapsed_s': wall, 'gen_cpu_s': gcpu,
            'server_cpu_s': cpu1 - cpu0, 'messages': total, 'errors': errors,
            'msgs_per_session': per_session, 'runs': runs}


def warmup(cfg, srv, cell, tag):
    size, rcpts, conns, per_conn = cell
    cmd = rb_cmd(cfg, srv.port, size, rcpts, min(conns, 20), per_conn, False, cfg.warmup_messages,
                 cfg.warmup_s)
    run_gen(cmd, cfg.warmup_s + 40, os.path.join(cfg.work, 'warm-%s.out' % tag))


# ---------------------------------------------------------------------------------------------------
# idle connections

def idle_test(cfg, srv, n):
    """opens n connections, each reads the greeting; returns the server's memory delta."""
    base_rss = tree_status(srv.proc.pid, 'VmRSS')
    base_pss = tree_pss(srv.proc.pid)
    sel = selectors.DefaultSelector()
    socks, pending, greeted, failed = [], {}, 0, 0
    deadline = time.monotonic() + cfg.idle_timeout
    opened = 0
    try:
        while (greeted + failed) < n and time.monotonic() < deadline:
            while opened < n and len(pending) < 256:
                s = socket.socket()
                s.setblocking(False)
                try:
                    s.connect(('127.0.0.1', srv.port))
                except BlockingIOError:
                    pass
                except OSError:
                    s.close()
                    failed += 1
                    opened += 1
                    continue
                sel.register(s, selectors.EVENT_READ)
                pending[s] = b''
                socks.append(s)
                opened += 1
            for key, _ in sel.select(0.5):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b''
                if not data:
                    failed += 1
                    sel.unregister(s)
                    pending.pop(s, None)
                    continue
                pending[s] += data
                if b'\n' in pending[s]:
                    if not pending[s].startswith(b'220'):
                        failed += 1
                    else:
                        greeted += 1
                    sel.unregister(s)
                    pending.pop(s, None)
            if not srv.alive():
                break
        time.sleep(cfg.idle_settle)
        # still open? (a server that closes idle connections would not count)
        alive = 0
        for s in socks:
            try:
                if s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b'':
                    continue
            except BlockingIOError:
                pass
            except OSError:
                continue
            alive += 1
        rss = tree_status(srv.proc.pid, 'VmRSS')
        pss = tree_pss(srv.proc.pid)
        hwm = tree_status(srv.proc.pid, 'VmHWM')
    finally:
        for s in socks:
            s.close()
        sel.close()
    return {'requested': n, 'greeted': greeted, 'failed': failed, 'alive': alive,
            'rss_delta_kb': rss - base_rss, 'pss_delta_kb': pss - base_pss, 'base_rss_kb': base_rss,
            'rss_kb': rss, 'hwm_kb': hwm,
            'bytes_per_conn_rss': (rss - base_rss) * 1024 / max(alive, 1),
            'bytes_per_conn_pss': (pss - base_pss) * 1024 / max(alive, 1)}


# ---------------------------------------------------------------------------------------------------
# formatting

def fmt_size(n):
    return '%dK' % (n // 1024) if n % 1024 == 0 else str(n)


def num(x, digits=None):
    if x is None:
        return '-'
    if digits is None:
        digits = 0 if abs(x) >= 100 else (1 if abs(x) >= 10 else 2)
    return '%.*f' % (digits, x)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def md_table(header, rows, align=None):
    align = align or ['l'] * len(header)
    w = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(header)]
    line = lambda cells: '| ' + ' | '.join(
        (str(c).ljust(w[i]) if align[i] == 'l' else str(c).rjust(w[i])) for i, c in enumerate(cells)) + ' |'
    sep = '|' + '|'.join(('-' * (w[i] + 2)) if align[i] == 'l' else ('-' * (w[i] + 1) + ':') for i in range(len(w))) + '|'
    return '\n'.join([line(header), sep] + [line(r) for r in rows])


def loadavg():
    with open('/proc/loadavg') as f:
        return float(f.read().split()[0])


# ---------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(prog='bench/compare_peers.sh')
    ap.add_argument('--quick', action='store_true', help='a small subset, short runs (smoke use)')
    ap.add_argument('--syscalls', action='store_true',
                    help='count each server\'s system calls per message with perf stat (raw_syscalls tracepoint)')
    ap.add_argument('--duration', type=float, help='seconds per measured run (default 3, quick 1)')
    ap.add_argument('--max-messages', type=int, default=20000, help='messages per measured run at most')
    ap.add_argument('--idle', type=int, help='idle connections (default 10000, quick 1000)')
    ap.add_argument('--servers', default=','.join(DEFAULT_SERVERS), help='comma-separated subset of ' + ','.join(SERVERS))
    ap.add_argument('--json', metavar='FILE', help='also write every raw result to FILE')
    ap.add_argument('--ringmail', default=os.path.join(ROOT, 'build/tools/ringmail'))
    ap.add_argument('--bench', default=os.path.join(ROOT, 'build/bench/ringmail-bench'))
    ap.add_argument('--floor', default=os.path.join(ROOT, 'build/bench/ringmail-floor'))
    ap.add_argument('--smtp-source', dest='smtp_source', default='/usr/sbin/smtp-source')
    ap.add_argument('--smtp-sink', dest='smtp_sink', default='/usr/sbin/smtp-sink')
    ap.add_argument('--sys-python', dest='sys_python', default='/usr/bin/python3')
    ap.add_argument('--node-dir', dest='node_dir', default=os.path.join(ROOT, 'bench/peers/node'))
    cfg = ap.parse_args()
    cfg.node_dir = os.path.abspath(cfg.node_dir)
    cfg.duration = cfg.duration or (1.0 if cfg.quick else 3.0)
    cfg.idle = cfg.idle or (1000 if cfg.quick else 10000)
    cfg.latency_s = 2.0 if cfg.quick else 5.0
    cfg.warmup_s = 0.5 if cfg.quick else 1.0
    cfg.warmup_messages = 200
    cfg.idle_timeout = 120.0
    cfg.idle_settle = 2.0
    servers = [s for s in cfg.servers.split(',') if s]
    for s in servers:
        if s not in SERVERS:
            ap.error('unknown server %r' % s)
    if 'smtp-sink' not in servers:
        servers.insert(0, 'smtp-sink')  # the reference for every ratio
    for exe in (cfg.ringmail, cfg.bench, cfg.smtp_source, cfg.smtp_sink) + ((cfg.floor,) if 'floor' in servers else ()):
        if not os.access(exe, os.X_OK):
            sys.exit('bench/compare_peers.sh: %s: not an executable (build first: ninja -C build)' % exe)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = cfg.idle + 2000
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(want, soft)), hard))
        except (ValueError, OSError):
            pass
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft < cfg.idle + 200:
        log('bench/compare_peers.sh: open-file limit %d: idle connections lowered from %d to %d' % (soft, cfg.idle, soft - 200))
        cfg.idle = max(10, soft - 200)

    cfg.work = tempfile.mkdtemp(prefix='ringmail-compare.')
    # private copies: the build directory may be rebuilt while this runs; one binary for the whole run
    for attr in ('ringmail', 'bench') + (('floor',) if 'floor' in servers else ()):
        dst = os.path.join(cfg.work, os.path.basename(getattr(cfg, attr)))
        shutil.copy2(getattr(cfg, attr), dst)
        setattr(cfg, attr, dst)
    started = time.time()
    try:
        head = subprocess.run(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD'], capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(['git', '-C', ROOT, 'status', '--porcelain', '--untracked-files=no'],
                               capture_output=True, text=True).stdout.strip()
        head = head + ('+changes' if dirty else '')
    except OSError:
        head = '?'
    meta = {'git': head, 'date_utc': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), 'nproc': os.cpu_count(),
            'kernel': os.uname().release, 'quick': cfg.quick, 'duration_s': cfg.duration,
            'max_messages': cfg.max_messages, 'idle': cfg.idle, 'nofile': soft}
    try:
        meta['cpu'] = next((l.split(':', 1)[1].strip() for l in subprocess.run(
            ['lscpu'], capture_output=True, text=True).stdout.splitlines() if l.startswith('Model name')), '?')
    except OSError:
        meta['cpu'] = '?'

    if cfg.quick:
        base_cells = [(1024, 1, 20, 100), (1024, 10, 200, 1), (102400, 1, 20, 100)]
        lat_cells = [(1024, 1, 20, 100)]
    else:
        base_cells = [(size, rc, conns, pc) for size in (1024, 102400) for rc in (1, 10)
                      for conns in (1, 20, 200) for pc in (1, 100)]
        lat_cells = [(1024, 1, 20, 100), (1024, 1, 200, 100), (102400, 1, 20, 100)]
    runs_total = len(base_cells) * 3 * len(servers)
    results, loads = [], []
    k = 0
    try:
        for ci, cell in enumerate(base_cells):
            order = servers[ci % len(servers):] + servers[:ci % len(servers)]  # rotate who goes first
            for variant in ('rb', 'rb-pipe', 'ss'):
                for name in order:
                    k += 1
                    tag = '%d-%s-%s' % (ci, variant, name)
                    srv = Server(name, cfg)
                    la = loadavg()
                    loads.append(la)
                    r = {'server': name, 'cell': cell, 'variant': variant, 'load': la}
                    try:
                        srv.start()
                        warmup(cfg, srv, cell, tag)
                        if variant == 'ss':
                            est = next((x['messages'] / x['elapsed_s'] for x in results
                                        if x['server'] == name and x['cell'] == cell and x['variant'] == 'rb'
                                        and x.get('elapsed_s')), None)
                            r.update(run_ss(cfg, srv, cell, tag, est))
                        else:
                            r.update(run_rb(cfg, srv, cell, variant == 'rb-pipe', tag))
                        r['peak_rss_kb'] = tree_status(srv.proc.pid, 'VmHWM')
                        if not srv.alive():
                            r.setdefault('errors', []).append('server died: ' + srv.tail())
                    except Exception as e:  # one broken run must not end the whole comparison
                        r.setdefault('errors', []).append('%s: %s' % (type(e).__name__, e))
                        r.setdefault('messages', 0)
                    finally:
                        early = srv.proc is not None and srv.proc.poll() is not None
                        rc = srv.stop()
                        # smtp-sink and the peers die of SIGTERM; ringmail and the floor must exit 0
                        if early or ((name in RINGMAIL_VARIANTS or name == 'floor') and rc not in (None, 0)):
                            r.setdefault('errors', []).append('server exited %s: %s' % (rc, srv.tail()))
                    results.append(r)
                    rate = r['messages'] / r['elapsed_s'] if r.get('elapsed_s') else 0
                    log('[%3d/%d %4.0fs] %-11s %-7s %5s r%-2d c%-3d x%-3d %8.0f msg/s  server CPU %6.2f s/10k%s' % (
                        k, runs_total, time.time() - started, name, variant, fmt_size(cell[0]), cell[1],
                        cell[2], cell[3], rate,
                        (r.get('server_cpu_s', 0) * 1e4 / r['messages']) if r['messages'] else 0,
                        ('  ERR ' + '; '.join(r['errors'])[:200]) if r.get('errors') else ''))

        # idle connections
        idle = {}
        for name in servers:
            srv = Server(name, cfg)
            try:
                srv.start()
                warmup(cfg, srv, (1024, 1, 20, 100), 'idle-' + name)
                time.sleep(0.5)
                idle[name] = idle_test(cfg, srv, cfg.idle)
            except Exception as e:
                idle[name] = {'error': '%s: %s' % (type(e).__name__, e)}
            finally:
                srv.stop()
            log('idle %-11s %s' % (name, json.dumps(idle[name])))

        # p99 at a fixed offered load: half of smtp-sink's closed-loop peak in the same cell shape
        latency = []
        for cell in lat_cells:
            peak = next((x['messages'] / x['elapsed_s'] for x in results if x['server'] == 'smtp-sink'
                         and x['cell'] == cell and x['variant'] == 'rb' and x.get('elapsed_s')), None)
            if not peak:
                srv = Server('smtp-sink', cfg)
                try:
                    srv.start()
                    warmup(cfg, srv, cell, 'peak')
                    x = run_rb(cfg, srv, cell, False, 'peak')
                    peak = x['messages'] / x['elapsed_s'] if x.get('elapsed_s') else None
                finally:
                    srv.stop()
            if not peak:
                continue
            rate = round(peak / 2)
            for name in servers:
                srv = Server(name, cfg)
                r = {'server': name, 'cell': cell, 'rate': rate, 'peak': peak}
                try:
                    srv.start()
                    warmup(cfg, srv, cell, 'lat-' + name)
                    r.update(run_rb(cfg, srv, cell, False, 'lat-' + name, rate=rate, duration=cfg.latency_s))
                except Exception as e:
                    r.setdefault('errors', []).append('%s: %s' % (type(e).__name__, e))
                finally:
                    srv.stop()
                latency.append(r)
                log('latency %-11s %s at %d msg/s: p99 %s ms, %s msgs in %.2f s%s' % (
                    name, cell, rate, num(r.get('p99_ms')), r.get('messages'), r.get('elapsed_s', 0),
                    ('  ERR ' + '; '.join(r['errors'])[:200]) if r.get('errors') else ''))
    finally:
        cleanup()

    meta['elapsed_s'] = time.time() - started
    meta['load_min'], meta['load_max'] = (min(loads), max(loads)) if loads else (None, None)
    if cfg.json:
        with open(cfg.json, 'w') as f:
            json.dump({'meta': meta, 'results': results, 'idle': idle, 'latency': latency}, f, indent=1,
                      default=str)
    print(report(cfg, servers, base_cells, results, idle, latency, meta))
    shutil.rmtree(cfg.work, ignore_errors=True)
    bad = sum(1 for r in results + latency if r.get('errors'))
    return 1 if bad else 0


def geomean(xs):
    xs = [x for x in xs if x]
    if not xs:
        return None
    p = 1.0
    for x in xs:
        p *= x
    return p ** (1.0 / len(xs))


def per_msg(x):
    """System calls per message of a run counted with --syscalls, as text ('-' without)."""
    if not x or x.get('syscalls') is None or not x.get('messages'):
        return '-'
    return num(x['syscalls'] / x['messages'], 2)


def floor_table(base_cells, get, rate_of, cpu_of, mark, ours='ringmail'):
    """ringmail's msgs/s, server CPU and peak RSS per cell as ratios to ringmail-floor (our null server
    on the same io_uring design: what our layers cost over the kernel) beside the ratios to smtp-sink,
    grouped by load: smtp-source, ringmail-bench lock-step, ringmail-bench --pipelining."""
    out = [ours + ' vs ringmail-floor (bench/floor/: one thread and ring per core, canned replies, nothing '
           'stored) and vs smtp-sink, same rows as above, by load. msgs/s ratio: higher is better; CPU and RSS '
           'ratios: lower is better (1.00x vs floor = no cost over the null server):', '']
    header = ['load', 'size', 'rcpt', 'conns', 'msg/conn', 'msgs/s ringmail', 'msgs/s floor', 'vs floor',
              'vs sink', 'CPU s/10k ringmail', 'CPU s/10k floor', 'vs floor', 'vs sink', 'peak RSS MB ringmail/floor',
              'vs floor', 'syscalls/msg ringmail/floor']
    rows, summary = [], []
    for variant, load in LOADS:
        qs_rate, qs_cpu = [], []
        for cell in base_cells:
            rm, fl, sk = get(ours, cell, variant), get('floor', cell, variant), get('smtp-sink', cell, variant)
            if not rm and not fl:
                continue
            qr, qrs = ratio(rate_of(rm), rate_of(fl)), ratio(rate_of(rm), rate_of(sk))
            qc, qcs = ratio(cpu_of(rm), cpu_of(fl)), ratio(cpu_of(rm), cpu_of(sk))
            rss_r = rm.get('peak_rss_kb') if rm else None
            rss_f = fl.get('peak_rss_kb') if fl else None
            qm = ratio(rss_r, rss_f)
            if not (rm and rm.get('errors')) and not (fl and fl.get('errors')):
                qs_rate.append(qr)
                qs_cpu.append(qc)
            x = lambda q: (num(q, 2) + 'x') if q is not None else '-'
            rows.append([load, fmt_size(cell[0]), cell[1], cell[2], cell[3],
                         num(rate_of(rm)) + mark(rm), num(rate_of(fl)) + mark(fl), x(qr), x(qrs),
                         num(cpu_of(rm)) + mark(rm), num(cpu_of(fl)) + mark(fl), x(qc), x(qcs),
                         '%s/%s' % (num(rss_r / 1024.0, 0) if rss_r else '-', num(rss_f / 1024.0, 0) if rss_f else '-'),
                         x(qm), '%s/%s' % (per_msg(rm), per_msg(fl))])
        gr, gc = geomean(qs_rate), geomean(qs_cpu)
        if gr is not None or gc is not None:
            summary.append('- %s: %s msgs/s %s of the floor\'s, server CPU per message %s the floor\'s '
                           '(geometric mean over %d cells without errors)' % (
                               load, ours, (num(gr, 2) + 'x') if gr else '-', (num(gc, 2) + 'x') if gc else '-',
                               len([q for q in qs_cpu if q])))
    out.append(md_table(header, rows, ['l', 'r', 'r', 'r', 'r'] + ['r'] * 11))
    out.append('')
    out += summary
    return out


def report(cfg, servers, base_cells, results, idle, latency, meta):
    others = [s for s in servers if s != 'smtp-sink']
    get = lambda name, cell, variant: next((x for x in results if x['server'] == name and x['cell'] == cell
                                            and x['variant'] == variant), None)

    def rate_of(x):
        return x['messages'] / x['elapsed_s'] if x and x.get('elapsed_s') and x['messages'] else None

    def cpu_of(x):
        return x['server_cpu_s'] * 1e4 / x['messages'] if x and x.get('messages') else None

    def mark(x):
        return '!' if x and x.get('errors') else ''

    out = []
    out.append('bench/compare_peers.sh: %s, ringmail %s, %d CPUs (%s), kernel %s, load average %.1f-%.1f during the cells, %.0f s' % (
        meta['date_utc'], meta['git'], meta['nproc'], meta['cpu'], meta['kernel'], meta['load_min'] or 0,
        meta['load_max'] or 0, meta['elapsed_s']))
    out.append('each run <= %g s and <= %d messages; ratios are vs smtp-sink in the same row '
               '(msgs/s: higher is better; CPU: lower is better); ! = the run reported errors (listed below)'
               % (cfg.duration, cfg.max_messages))
    out.append('')
    header = ['gen', 'size', 'rcpt', 'conns', 'msg/conn', 'pipe']
    header += ['msgs/s ' + SHORT[s] for s in servers]
    header += ['CPU s/10k ' + SHORT[s] for s in servers]
    header += ['peak RSS MB ' + '/'.join(SHORT[s] for s in servers), 'gen us/msg']
    align = ['l', 'r', 'r', 'r', 'r', 'l'] + ['r'] * (2 * len(servers) + 2)
    rows = []
    for cell in base_cells:
        for variant in ('rb', 'rb-pipe', 'ss'):
            ref = get('smtp-sink', cell, variant)
            rr, rc = rate_of(ref), cpu_of(ref)
            pc = str(cell[3])
            if variant == 'ss':
                per = [get(s, cell, 'ss').get('msgs_per_session') for s in servers if get(s, cell, 'ss')]
                if cell[3] > 1 and any(p != cell[3] for p in per if p):
                    pc = '/'.join(str(p) for p in per)
            row = ['rb' if variant != 'ss' else 'ss', fmt_size(cell[0]), cell[1], cell[2], pc,
                   'yes' if variant == 'rb-pipe' else 'no']
            for metric, refv in ((rate_of, rr), (cpu_of, rc)):
                for s in servers:
                    x = get(s, cell, variant)
                    v = metric(x)
                    if s == 'smtp-sink':
                        row.append(num(v) + mark(x))
                    else:
                        q = ratio(v, refv)
                        row.append('%s (%s)%s' % (num(v), (num(q, 2) + 'x') if q is not None else '-', mark(x)))
            row.append('/'.join(num(get(s, cell, variant).get('peak_rss_kb', 0) / 1024.0, 0)
                                if get(s, cell, variant) else '-' for s in servers))
            row.append(num(ref['gen_cpu_s'] * 1e6 / ref['messages'], 1) if ref and ref.get('messages') else '-')
            rows.append(row)
    out.append(md_table(header, rows, align))
    out.append('')
    nopipe = [s for s in servers if any(x['server'] == s and x['variant'] == 'rb-pipe' and x.get('sessions')
                                        and not x.get('pipelined_sessions') for x in results)]
    out.append('gen: rb = ringmail-bench (EHLO; --pipelining where pipe = yes and the server offers it), '
               'ss = smtp-source (HELO, no pipelining; msg/conn a/b/c = per server where a slow server got '
               'fewer per session); gen us/msg: the generator\'s CPU per message while driving smtp-sink.' +
               (' Not offering PIPELINING (its pipe = yes rows are lock-step): %s.' % ', '.join(nopipe) if nopipe else ''))

    for ours in RINGMAIL_VARIANTS:
        if 'floor' in servers and ours in servers:
            out.append('')
            out += floor_table(base_cells, get, rate_of, cpu_of, mark, ours)

    out.append('')
    out.append('Idle connections (each has read the 220 greeting; memory = server RSS (PSS) after - before, '
               'over the connections still open):')
    out.append('')
    rows = []
    ref = idle.get('smtp-sink', {}).get('bytes_per_conn_rss')
    fref = idle.get('floor', {}).get('bytes_per_conn_rss')
    for s in servers:
        d = idle.get(s, {})
        if 'error' in d:
            rows.append([s, '-', '-', '-', '-', '-', '-', d['error'][:80]])
            continue
        q, qf = ratio(d.get('bytes_per_conn_rss'), ref), ratio(d.get('bytes_per_conn_rss'), fref)
        rows.append([s, '%d/%d' % (d['alive'], d['requested']), num(d['rss_delta_kb'] / 1024.0, 1),
                     num(d['bytes_per_conn_rss'] / 1024.0, 2), num(d['bytes_per_conn_pss'] / 1024.0, 2),
                     (num(q, 3) + 'x') if q is not None else '-', (num(qf, 3) + 'x') if qf is not None else '-',
                     num(d['rss_kb'] / 1024.0, 1)])
    out.append(md_table(['server', 'open/asked', 'RSS delta MB', 'KiB/conn RSS', 'KiB/conn PSS', 'vs sink',
                         'vs floor', 'RSS MB with them'], rows, ['l'] + ['r'] * 7))

    out.append('')
    out.append('p99 latency at a fixed open-loop rate = half of smtp-sink\'s closed-loop ringmail-bench peak '
               'in the same cell (no pipelining), %g s per run, latency from the intended send time:' % cfg.latency_s)
    out.append('')
    rows = []
    for cell in dict.fromkeys(x['cell'] for x in latency):
        refx = next((x for x in latency if x['cell'] == cell and x['server'] == 'smtp-sink'), None)
        flx = next((x for x in latency if x['cell'] == cell and x['server'] == 'floor'), None)
        for s in servers:
            x = next((y for y in latency if y['cell'] == cell and y['server'] == s), None)
            if not x:
                continue
            q = ratio(x.get('p99_ms'), refx.get('p99_ms') if refx else None)
            qf = ratio(x.get('p99_ms'), flx.get('p99_ms') if flx else None)
            rows.append(['%s r%d c%d x%d' % (fmt_size(cell[0]), cell[1], cell[2], cell[3]), s,
                         '%d' % x['rate'], num(rate_of(x)), num(x.get('p50_ms'), 2), num(x.get('p99_ms'), 2) + mark(x),
                         (num(q, 2) + 'x') if q is not None else '-', (num(qf, 2) + 'x') if qf is not None else '-'])
    out.append(md_table(['cell', 'server', 'offered/s', 'done/s', 'p50 ms', 'p99 ms', 'p99 vs sink', 'p99 vs floor'],
                        rows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r']))

    # issue 4 targets (ringmail with the discard handler)
    out.append('')
    out.append('Issue 4 targets, ringmail (discard handler, MIME on) against smtp-sink in this run:')
    if 'ringmail' in servers:
        for size, limit in ((1024, 1 / 3), (102400, 1 / 2)):
            qs = []
            for cell in base_cells:
                if cell[0] != size:
                    continue
                for variant in ('rb', 'rb-pipe', 'ss'):
                    q = ratio(cpu_of(get('ringmail', cell, variant)), cpu_of(get('smtp-sink', cell, variant)))
                    if q is not None:
                        qs.append((q, variant, cell))
            if qs:
                met = sum(1 for q in qs if q[0] <= limit)
                worst = max(qs)
                out.append('- CPU/msg <= %s of smtp-sink in every %s cell: %s (%d of %d cells; worst %.2fx in %s %s r%d c%d x%d)'
                           % ('1/3' if size == 1024 else '1/2', fmt_size(size), 'met' if met == len(qs) else 'NOT met',
                              met, len(qs), worst[0], worst[1], fmt_size(size), worst[2][1], worst[2][2], worst[2][3]))
        for variant, need, what in (('ss', 1.5, 'smtp-source'), ('rb-pipe', 2.0, 'ringmail-bench --pipelining')):
            cell = (1024, 1, 200, 100)
            q = ratio(rate_of(get('ringmail', cell, variant)), rate_of(get('smtp-sink', cell, variant)))
            if q is not None:
                out.append('- msgs/s >= %gx smtp-sink at 1K r1 c200 x100 driven by %s: %s (%.2fx)' % (
                    need, what, 'met' if q >= need else 'NOT met', q))
        d = idle.get('ringmail', {})
        if 'bytes_per_conn_rss' in d:
            out.append('- <= 1 KiB per idle connection at %d: %s (%.2f KiB RSS, %.2f KiB PSS, %d open)' % (
                d['requested'], 'met' if d['bytes_per_conn_rss'] <= 1024 else 'NOT met',
                d['bytes_per_conn_rss'] / 1024, d['bytes_per_conn_pss'] / 1024, d['alive']))
        for cell in dict.fromkeys(x['cell'] for x in latency):
            a = next((x for x in latency if x['cell'] == cell and x['server'] == 'ringmail'), {})
            b = next((x for x in latency if x['cell'] == cell and x['server'] == 'smtp-sink'), {})
            q = ratio(a.get('p99_ms'), b.get('p99_ms'))
            if q is not None:
                out.append('- p99 at half smtp-sink\'s peak <= 1/2 of smtp-sink\'s, %s r%d c%d x%d: %s (%.2f vs %.2f ms, %.2fx)' % (
                    fmt_size(cell[0]), cell[1], cell[2], cell[3], 'met' if q <= 0.5 else 'NOT met',
                    a['p99_ms'], b['p99_ms'], q))
        qs = []
        for cell in base_cells:
            a, b = get('smtp-sink', cell, 'rb'), get('smtp-sink', cell, 'ss')
            if a and b and a.get('messages') and b.get('messages'):
                qs.append((a['gen_cpu_s'] / a['messages']) / (b['gen_cpu_s'] / b['messages']))
        if qs:
            out.append('- ringmail-bench CPU/msg <= 1/2 of smtp-source\'s (driving smtp-sink, same cell, no pipelining): '
                       '%s (%d of %d cells; ratio %.2f-%.2f)' % ('met' if all(q <= 0.5 for q in qs) else 'NOT met',
                                                                 sum(q <= 0.5 for q in qs), len(qs), min(qs), max(qs)))

    errs = [x for x in results + latency if x.get('errors')]
    if errs:
        out.append('')
        out.append('Errors:')
        for x in errs:
            cell = x['cell']
            out.append('- %s %s %s r%d c%d x%d: %s' % (x['server'], x.get('variant', 'latency'), fmt_size(cell[0]),
                                                       cell[1], cell[2], cell[3], '; '.join(x['errors'])[:400]))
    return '\n'.join(out)


if __name__ == '__main__':
    sys.exit(main())
