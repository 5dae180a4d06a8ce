#!/usr/bin/env python3
"""bench/floor_targets.py: issue 17's targets, measured as the issue defines them: 1 KiB messages,
200 connections, about 100 messages per connection, under three loads (smtp-source, ringmail-bench
lock-step, ringmail-bench --pipelining), ringmail against ringmail-floor (bench/floor/) in the same
run, medians of paired rounds (in each round every server takes each load once, one after the
other, the floor first in even rounds and last in odd ones). Server CPU per message comes from
the server's threads' schedstat over the run, as in compare_peers.py,
whose process helpers this reuses. Prints the medians, the per-round ratios and each target met or
not; asserts nothing (a benchmark, never a test).

Usage (repository root, after `ninja -C build`; Postfix's smtp-source must be installed, as
bench/compare_peers.sh installs it):
  python3 bench/floor_targets.py [--rounds 5] [--messages 20000] [--servers ringmail,ringmail-mime]
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare_peers as cp  # noqa: E402

CELL = (1024, 1, 200, 100)  # size, recipients, connections, messages per connection
TARGET_CPU = {'ringmail': 1.10, 'ringmail-mime': 1.25, 'ringmail-batch': 1.10}


def main():
    ap = argparse.ArgumentParser(prog='bench/floor_targets.py')
    ap.add_argument('--rounds', type=int, default=5)
    ap.add_argument('--messages', type=int, default=20000, help='messages per run (at most)')
    ap.add_argument('--servers', default='ringmail,ringmail-mime',
                    help='ringmail variants to hold against the floor: ' + ','.join(cp.RINGMAIL_VARIANTS))
    ap.add_argument('--ringmail', default=os.path.join(cp.ROOT, 'build/tools/ringmail'))
    ap.add_argument('--bench', default=os.path.join(cp.ROOT, 'build/bench/ringmail-bench'))
    ap.add_argument('--floor', default=os.path.join(cp.ROOT, 'build/bench/ringmail-floor'))
    ap.add_argument('--smtp-source', dest='smtp_source', default='/usr/sbin/smtp-source')
    cfg = ap.parse_args()
    ours = [s for s in cfg.servers.split(',') if s]
    for s in ours:
        if s not in cp.RINGMAIL_VARIANTS:
            ap.error('unknown ringmail variant %r' % s)
    if not 1 <= cfg.rounds <= 50 or not 100 <= cfg.messages <= 1000000:
        ap.error('--rounds 1-50, --messages 100-1000000')
    for exe in (cfg.ringmail, cfg.bench, cfg.floor, cfg.smtp_source):
        if not os.access(exe, os.X_OK):
            sys.exit('bench/floor_targets.py: %s: not an executable' % exe)
    cfg.duration = 30.0  # runs end by message count; this only bounds them
    cfg.max_messages = cfg.messages
    cfg.syscalls = False
    cfg.smtp_sink = '/usr/sbin/smtp-sink'
    cfg.sys_python = '/usr/bin/python3'
    cfg.node_dir = ''
    cfg.warmup_messages, cfg.warmup_s = 2000, 1.0
    cfg.work = tempfile.mkdtemp(prefix='ringmail-floor-targets.')
    for attr in ('ringmail', 'bench', 'floor'):  # private copies: the build may change meanwhile
        dst = os.path.join(cfg.work, os.path.basename(getattr(cfg, attr)))
        shutil.copy2(getattr(cfg, attr), dst)
        setattr(cfg, attr, dst)
    cp.signal.signal(cp.signal.SIGTERM, cp.on_signal)
    cp.signal.signal(cp.signal.SIGINT, cp.on_signal)

    names = ['floor'] + ours
    servers = {n: cp.Server(n, cfg) for n in names}
    loads = (('ss', 'smtp-source'), ('rb', 'ringmail-bench lock-step'), ('rb-pipe', 'ringmail-bench --pipelining'))
    # cpu[name][load] and rate[name][load]: one figure per round
    cpu = {n: {l: [] for l, _ in loads} for n in names}
    rate = {n: {l: [] for l, _ in loads} for n in names}
    try:
        for s in servers.values():
            s.start()
            cp.warmup(cfg, s, CELL, 'warm-' + s.name)
        for r in range(cfg.rounds):
            for load, _ in loads:
                # The floor runs first in even rounds and last in odd ones, so that a drift
                # of the machine within a round does not always favour the same server.
                for n in (names if r % 2 == 0 else names[::-1]):
                    s = servers[n]
                    tag = '%s-%s-%d' % (n, load, r)
                    if load == 'ss':
                        x = cp.run_ss(cfg, s, CELL, tag, 20000.0)
                    else:
                        x = cp.run_rb(cfg, s, CELL, load == 'rb-pipe', tag)
                    if x.get('errors') or not x.get('messages'):
                        sys.exit('bench/floor_targets.py: %s %s round %d failed: %s' % (n, load, r, x.get('errors')))
                    cpu[n][load].append(x['server_cpu_s'] / x['messages'])
                    rate[n][load].append(x['messages'] / x['elapsed_s'])
            cp.log('round %d of %d done' % (r + 1, cfg.rounds))
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(cfg.work, ignore_errors=True)

    print('bench/floor_targets.py: %d paired rounds, 1 KiB, 200 connections x 100 messages, <= %d messages a run'
          % (cfg.rounds, cfg.messages))
    print()
    print('| load | server | CPU us/msg (median) | floor us/msg | CPU vs floor (median of rounds) | rounds '
          '| msgs/s vs floor (median) | target |')
    print('|---|---|--:|--:|--:|---|--:|---|')
    for load, label in loads:
        for n in ours:
            qc = [a / b for a, b in zip(cpu[n][load], cpu['floor'][load])]
            qr = [a / b for a, b in zip(rate[n][load], rate['floor'][load])]
            mc, mr = statistics.median(qc), statistics.median(qr)
            want = TARGET_CPU[n]
            verdict = 'CPU <= %.2fx: %s' % (want, 'met' if mc <= want else 'NOT met')
            if load == 'rb-pipe' and n == 'ringmail':
                verdict += '; msgs/s >= 0.90x: %s' % ('met' if mr >= 0.90 else 'NOT met')
            print('| %s | %s | %.2f | %.2f | %.2fx | %s | %.2fx | %s |' % (
                label, n, statistics.median(cpu[n][load]) * 1e6, statistics.median(cpu['floor'][load]) * 1e6, mc,
                ' '.join('%.2f' % q for q in qc), mr, verdict))


if __name__ == '__main__':
    main()
