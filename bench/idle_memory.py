#!/usr/bin/env python3
"""Bytes of server memory per idle connection: starts `ringmail serve` (discard handler,
2 reactors, a free loopback port), reads its RSS, opens N connections that read the 220
greeting and then stay silent, waits, reads RSS again and prints (after - before) / N.
Bounded: N connections, fixed waits; every connection and the server are closed at the end.

Usage: bench/idle_memory.py [RINGMAIL] [N ...]   (default build/tools/ringmail, 5000 10000)
"""
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def measure(exe, n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 256)), hard))
    with tempfile.TemporaryDirectory(prefix="ringmail-idle-") as d:
        err = open(os.path.join(d, "err"), "w+b")
        p = subprocess.Popen([exe, "serve", "--config", os.path.join(d, "mail.ini"), "--init", "--port", "0",
                              "--handler", "discard", "--reactors", "2"], cwd=d, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)
        try:
            port = None
            for _ in range(200):
                err.seek(0)
                m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", err.read())
                if m:
                    port = int(m.group(1))
                    break
                time.sleep(0.05)
            if port is None:
                raise RuntimeError("server did not start")
            time.sleep(1)
            before = rss_kib(p.pid)
            conns = []
            for _ in range(n):
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                conns.append(s)
            for s in conns:
                if not s.recv(512).startswith(b"220"):
                    raise RuntimeError("no greeting")
            time.sleep(2)
            after = rss_kib(p.pid)
            for s in conns:
                s.close()
            return (after - before) * 1024 / n
        finally:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def main():
    exe = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/tools/ringmail")
    counts = [int(a) for a in sys.argv[2:]] or [5000, 10000]
    for n in counts:
        print("%s: %d idle connections: %.0f bytes/connection" % (exe, n, measure(exe, n)))


if __name__ == "__main__":
    main()
