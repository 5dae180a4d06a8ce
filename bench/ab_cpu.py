#!/usr/bin/env python3
"""bench/ab_cpu.py: server CPU per message of two ringmail builds (A, B), and optionally the
floor, in alternating runs: a before/after check for a change, in the cell of issue 17 (1 KiB,
200 connections x 100 messages). Each round runs every load once against each server, one after
the other; prints per load the medians of A's and B's CPU per message, the median of the
per-round ratios B/A and, with --floor, of each against the floor. A benchmark: asserts nothing.

Usage (repository root; A is typically a worktree's build of the commit before):
  python3 bench/ab_cpu.py --a ../wt-base/build/tools/ringmail --b build/tools/ringmail \\
      [--rounds 5] [--messages 50000] [--loads pipe,rb,ss] [--floor] [--set mime=on]
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare_peers as cp  # noqa: E402

SS_CHUNK = 20000  # smtp-source: 200 sessions x 100 messages a run


def start(work, name, cmd):
    d = os.path.join(work, name)
    os.makedirs(d)
    with open(os.path.join(d, 'log'), 'wb') as log:
        p = subprocess.Popen(cmd + (['--config', os.path.join(d, 'r.ini'), '--init', '--port', '0', '--handler', 'discard']
                                    if 'serve' in cmd else []),
                             stdout=log, stderr=subprocess.STDOUT, cwd=d)
    cp.LIVE[p.pid] = p
    for _ in range(200):
        time.sleep(0.05)
        with open(os.path.join(d, 'log'), errors='replace') as f:
            m = re.search(r'127\.0\.0\.1:(\d+)', f.read())
        if m:
            return p, int(m.group(1))
        if p.poll() is not None:
            break
    raise SystemExit('bench/ab_cpu.py: %s did not start' % name)


def load(cfg, port, kind, n):
    """Runs `n` messages (smtp-source: whole runs of SS_CHUNK) and returns the count."""
    if kind == 'ss':
        runs = max(1, n // SS_CHUNK)
        for _ in range(runs):
            subprocess.run([cfg.smtp_source, '-d', '-l', '1024', '-m', str(SS_CHUNK), '-s', '200', '-r', '1',
                            '-f', 'a@example.com', '-t', 'b@example.com', '127.0.0.1:%d' % port],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300, check=True)
        return runs * SS_CHUNK
    cmd = [cfg.bench, '--port', str(port), '-c', '200', '--transactions-per-connection', '100', '-n', str(n)]
    if kind == 'pipe':
        cmd.append('--pipelining')
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300, check=True)
    return n


def main():
    ap = argparse.ArgumentParser(prog='bench/ab_cpu.py')
    ap.add_argument('--a', required=True, help='ringmail binary A (before)')
    ap.add_argument('--b', default=os.path.join(cp.ROOT, 'build/tools/ringmail'), help='ringmail binary B (after)')
    ap.add_argument('--set', action='append', default=[], help='KEY=VALUE for both (ringmail serve --set)')
    ap.add_argument('--rounds', type=int, default=5)
    ap.add_argument('--messages', type=int, default=50000)
    ap.add_argument('--loads', default='pipe,rb,ss', help='pipe (ringmail-bench --pipelining), rb (lock-step), ss (smtp-source)')
    ap.add_argument('--floor', action='store_true', help='run ringmail-floor too')
    ap.add_argument('--bench', default=os.path.join(cp.ROOT, 'build/bench/ringmail-bench'))
    ap.add_argument('--floor-bin', dest='floor_bin', default=os.path.join(cp.ROOT, 'build/bench/ringmail-floor'))
    ap.add_argument('--smtp-source', dest='smtp_source', default='/usr/sbin/smtp-source')
    cfg = ap.parse_args()
    loads = [x for x in cfg.loads.split(',') if x]
    if not 1 <= cfg.rounds <= 50 or not 1000 <= cfg.messages <= 1000000 or not set(loads) <= {'pipe', 'rb', 'ss'}:
        ap.error('--rounds 1-50, --messages 1000-1000000, --loads of pipe,rb,ss')
    extra = [a for kv in cfg.set for a in ('--set', kv)]
    work = tempfile.mkdtemp(prefix='ringmail-ab.')
    signal.signal(signal.SIGTERM, cp.on_signal)
    signal.signal(signal.SIGINT, cp.on_signal)
    servers = {}
    cpu = {}
    try:
        servers['A'] = start(work, 'A', [cfg.a, 'serve'] + extra)
        servers['B'] = start(work, 'B', [cfg.b, 'serve'] + extra)
        if cfg.floor:
            servers['floor'] = start(work, 'floor', [cfg.floor_bin, '--listen', '127.0.0.1:0'])
        cpu = {k: {l: [] for l in loads} for k in servers}
        for _, port in servers.values():
            load(cfg, port, 'rb', 5000)  # warm up
        for r in range(cfg.rounds):
            for l in loads:
                for k, (p, port) in servers.items():
                    c0 = cp.tree_cpu(p.pid)
                    n = load(cfg, port, l, cfg.messages)
                    cpu[k][l].append((cp.tree_cpu(p.pid) - c0) / n * 1e6)
            cp.log('round %d of %d done' % (r + 1, cfg.rounds))
    finally:
        for p, _ in servers.values():
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            cp.LIVE.pop(p.pid, None)
        shutil.rmtree(work, ignore_errors=True)
    print('bench/ab_cpu.py: %d rounds, %d messages a run, 1 KiB, 200 connections x 100%s' %
          (cfg.rounds, cfg.messages, (', ' + ' '.join(cfg.set)) if cfg.set else ''))
    for l in loads:
        a, b = cpu['A'][l], cpu['B'][l]
        line = '%-4s A %6.2f us/msg  B %6.2f us/msg  B/A %.3f (%s)' % (
            l, statistics.median(a), statistics.median(b), statistics.median([y / x for x, y in zip(a, b)]),
            ' '.join('%.2f' % (y / x) for x, y in zip(a, b)))
        if cfg.floor:
            f = cpu['floor'][l]
            line += '  A/floor %.3f  B/floor %.3f' % (statistics.median([x / y for x, y in zip(a, f)]),
                                                     statistics.median([x / y for x, y in zip(b, f)]))
        print(line)


if __name__ == '__main__':
    main()
