#!/usr/bin/env python3
"""Server memory under large messages (issue 13 item 3), two scenarios on a fresh
`ringmail serve` each (free loopback port, one reactor, MIME split on):

  oversize  one client sends 11 MB of 1,000-octet lines against the 10 MB limit: growth of
            the peak RSS (VmHWM) while it arrives (the 552 must come back)
  burst     CLIENTS clients send MB-megabyte messages at once to a Maildir, with
            max_inflight_bytes = BUDGET: replies counted, peak RSS, RSS right after the
            burst and 2 s later (memory given back)

Bounded: fixed counts, every socket and server closed at the end.
Usage: bench/body_memory.py [RINGMAIL] [BUDGET CLIENTS MB]   (default build/tools/ringmail 512M 100 10)
"""
import collections
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

LINE = b"z" * 998 + b"\r\n"


def status(pid):
    d = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, v = line.split(":", 1)
            d[k] = v
    return int(d["VmRSS"].split()[0]) // 1024, int(d["VmHWM"].split()[0]) // 1024


def start(exe, d, extra):
    with open(os.path.join(d, "mail.ini"), "w") as f:
        f.write("port = 0\nreactors = 1\n" + extra)
    err = open(os.path.join(d, "err"), "w+b")
    p = subprocess.Popen([exe, "serve", "--config", os.path.join(d, "mail.ini")], cwd=d,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    for _ in range(200):
        err.seek(0)
        m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", err.read())
        if m:
            return p, int(m.group(1))
        time.sleep(0.05)
    p.kill()
    raise RuntimeError("server did not start")


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def transaction(port, body):
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    f = s.makefile("rb")
    try:
        f.readline()
        s.sendall(b"EHLO bench.example\r\n")
        while f.readline()[3:4] != b" ":
            pass
        s.sendall(b"MAIL FROM:<a@example.org>\r\n")
        r = f.readline()
        if not r.startswith(b"250"):
            return r[:9].decode()
        s.sendall(b"RCPT TO:<b@example.com>\r\nDATA\r\n")
        f.readline()
        f.readline()
        s.sendall(body + b".\r\n")
        return f.readline()[:9].decode()
    finally:
        f.close()
        s.close()


def oversize(exe):
    with tempfile.TemporaryDirectory(prefix="ringmail-mem-") as d:
        p, port = start(exe, d, "handler = maildir:%s\n" % os.path.join(d, "Maildir"))
        try:
            time.sleep(0.3)
            before = status(p.pid)[1]
            reply = transaction(port, b"Subject: big\r\n\r\n" + LINE * 11000)
            peak = status(p.pid)[1]
            print("oversize: 11 MB of lines against 10 MB: reply %s, peak RSS growth %d MB" % (reply, peak - before))
        finally:
            stop(p)


def burst(exe, budget, clients, mb):
    with tempfile.TemporaryDirectory(prefix="ringmail-mem-") as d:
        p, port = start(exe, d, "handler = maildir:%s\nmax_inflight_bytes = %s\nmax_message_size = 20M\n"
                        % (os.path.join(d, "Maildir"), budget))
        try:
            time.sleep(0.3)
            before = status(p.pid)[0]
            body = b"Subject: b\r\n\r\n" + LINE * (mb * 1000)
            replies = []
            threads = [threading.Thread(target=lambda: replies.append(transaction(port, body))) for _ in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(300)
            rss, peak = status(p.pid)
            time.sleep(2)
            later = status(p.pid)[0]
            print("burst: budget %s, %d clients x %d MB: %s; RSS before %d MB, peak %d MB, after %d MB, 2 s later %d MB"
                  % (budget, clients, mb, dict(collections.Counter(replies)), before, peak, rss, later))
        finally:
            stop(p)


def main():
    exe = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/tools/ringmail")
    budget, clients, mb = (sys.argv[2:5] + ["512M", "100", "10"][len(sys.argv[2:5]):])
    oversize(exe)
    burst(exe, budget, int(clients), int(mb))
    burst(exe, "0", int(clients), int(mb))


if __name__ == "__main__":
    main()
