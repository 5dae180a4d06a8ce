#!/usr/bin/python3
"""bench/relay_priority.py — issue 14's priority figure: a high message queued behind
100,000 low ones is delivered first, within a second.

Usage (from the repository root, after `ninja -C build`; Debian's python3 for aiosmtpd):

    /usr/bin/python3 bench/relay_priority.py [LOW=100000] [HIGHS=5]

RINGMAIL (build/tools/ringmail) and ENQUEUE (build/bench/relay_enqueue) in the environment
name other binaries; TMPDIR where the queue goes; KEEP=1 keeps the work directory.

What it does (only loopback; every wait bounded in time):
1. fills a new queue with LOW messages of 200 octets, priority low, to r@[127.0.0.2], with
   bench/relay_enqueue (batches of 1,000, one group commit each), then adds one high message
   with `ringmail queue add --priority high` (the "cold" case: queued before any server runs);
2. starts a sink on 127.0.0.2: Postfix's smtp-sink with `-D FILE` (each transaction appended
   to FILE as it ends; a thread reads FILE every 5 ms and notes the envelope senders and
   their arrival times), or with SINK=aiosmtpd an aiosmtpd sink in this process; and
   `ringmail serve` with `handler = queue` and `[relay] mx_port` = the sink's port
   (defaults otherwise: 5 connections, 100 messages per connection);
3. "live": once 2,000 low messages have arrived, HIGHS times: `ringmail queue add
   --priority high` (a separate process; the server learns of it at its next one-second
   tick), then one message over SMTP (priority medium, still above low; the 250 pokes the
   engine), each waited for at the sink; a random 0.3-1.3 s between them;
4. stops the server (SIGTERM) and prints, per message: seconds from the start of `queue add`
   (or from the SMTP 250; the cold one: from the server's start) to its arrival at the sink, the low messages that arrived in
   between, and the low messages still queued (not yet at the sink) when it arrived.
"""
import os
import random
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RINGMAIL = os.environ.get("RINGMAIL", os.path.join(ROOT, "build/tools/ringmail"))
ENQUEUE = os.environ.get("ENQUEUE", os.path.join(ROOT, "build/bench/relay_enqueue"))
SINK_HOST = "127.0.0.2"
RCPT = "r@[127.0.0.2]"
WAIT = 30.0  # seconds: bound on any one wait


class Arrivals:
    """Arrival times and senders at the sink, in order, and the first arrival of each
    sender other than the low ones."""

    def __init__(self):
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.count = 0
        self.lows = 0
        self.first_t = self.last_t = None
        self.others = {}  # sender: (time, index, low ones before it)

    def add(self, now, sender):
        """Called with the lock held."""
        if self.first_t is None:
            self.first_t = now
        self.last_t = now
        if sender.startswith("low@"):
            self.lows += 1
        elif sender not in self.others:
            self.others[sender] = (now, self.count, self.lows)
        self.count += 1
        self.cond.notify_all()

    def wait(self, pred, timeout=WAIT):
        """Waits until pred() (called under the lock) is true; False at the deadline."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.5))
            return True

    def arrival_of(self, sender):
        """(time, index, lows before it) of the first message from `sender`, or None."""
        return self.others.get(sender)


class AiosmtpdSink(Arrivals):
    """aiosmtpd in this process (SINK=aiosmtpd): notes each message in handle_DATA."""

    def __init__(self, work, port):
        super().__init__()
        from aiosmtpd.controller import Controller
        self.controller = Controller(self, hostname=SINK_HOST, port=port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):
        now = time.monotonic()
        with self.lock:
            self.add(now, envelope.mail_from)
        return "250 2.0.0 ok"

    def stop(self):
        self.controller.stop()


class SmtpSink(Arrivals):
    """Postfix's smtp-sink (the default): `-D FILE` appends each transaction to FILE when it
    ends (X-Mail-Args: <sender> among its lines); a thread reads the file every 5 ms, so an
    arrival time is late by at most that much."""

    def __init__(self, work, port):
        super().__init__()
        d = os.path.join(work, "sink")
        os.mkdir(d)
        os.chmod(work, 0o711)  # smtp-sink drops to nobody when run as root: it must get in
        os.chmod(d, 0o777)
        self.path = os.path.join(d, "dump")
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        self.proc = subprocess.Popen(["smtp-sink"] + user + ["-D", self.path, "%s:%d" % (SINK_HOST, port), "1000"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.follow, daemon=True)
        self.thread.start()
        for _ in range(250):  # bounded: 5 s for the listener
            with socket.socket() as c:
                if c.connect_ex((SINK_HOST, port)) == 0:
                    return
            time.sleep(0.02)
        sys.exit("smtp-sink did not start")

    def follow(self):
        pending = b""
        f = None
        while not self.stopping.is_set():
            if f is None and os.path.exists(self.path):
                f = open(self.path, "rb")
            chunk = f.read() if f else b""
            if chunk:
                now = time.monotonic()
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                with self.lock:
                    for line in lines:
                        if line.startswith(b"X-Mail-Args: <"):
                            self.add(now, line[14:].split(b">", 1)[0].decode())
            else:
                time.sleep(0.005)
        if f:
            f.close()

    def stop(self):
        self.stopping.set()
        self.thread.join(10)
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)


def free_port(host):
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def queue_add(config, workdir, sender, priority):
    body = os.path.join(workdir, "m.eml")
    with open(body, "wb") as f:
        f.write(b"From: %s\r\nSubject: priority bench\r\n\r\n%s\r\n" % (sender.encode(), b"x" * 150))
    r = subprocess.run([RINGMAIL, "queue", "add", "--config", config, "--from", sender, "--to", RCPT,
                        "--priority", priority, body], capture_output=True, timeout=WAIT)
    if r.returncode != 0:
        sys.exit("queue add failed: %s" % r.stderr.decode())
    return r.stdout.decode().strip()


def main():
    low = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    highs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    for exe in (RINGMAIL, ENQUEUE):
        if not os.access(exe, os.X_OK):
            sys.exit("not built: " + exe)
    work = tempfile.mkdtemp(prefix="relay-priority-")
    server = None
    sink = None
    try:
        qdir = os.path.join(work, "queue")
        t = time.monotonic()
        fill = subprocess.run([ENQUEUE, qdir, str(low), "1000", "200", "--priority", "low", "--to", RCPT,
                               "--from", "low@example.org"], capture_output=True, timeout=1800)
        if fill.returncode != 0:
            sys.exit("relay_enqueue failed: " + fill.stderr.decode())
        print("fill: %s (%.1f s wall)" % (fill.stdout.decode().strip(), time.monotonic() - t))

        port = free_port(SINK_HOST)
        sink = (AiosmtpdSink if os.environ.get("SINK") == "aiosmtpd" else SmtpSink)(work, port)
        config = os.path.join(work, "mail.ini")
        with open(config, "w") as f:
            f.write("port = 0\nhandler = queue\n[relay]\nqueue_dir = %s\nmx_port = %d\ntls = none\n[http]\nlisten =\n" % (qdir, port))
        queue_add(config, work, "high-cold@example.org", "high")  # behind all the low ones, no server yet

        err_path = os.path.join(work, "stderr.txt")
        with open(err_path, "wb") as err:
            t_start = time.monotonic()
            server = subprocess.Popen([RINGMAIL, "serve", "--config", config], cwd=work, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=err)
        m = None
        for _ in range(int(WAIT / 0.02)):
            with open(err_path, "rb") as f:
                m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", f.read())
            if m or server.poll() is not None:
                break
            time.sleep(0.02)
        if not m:
            sys.exit("ringmail did not start: " + open(err_path).read())
        smtp_port = int(m.group(1))
        t_listening = time.monotonic()

        rows = []
        if not sink.wait(lambda: sink.arrival_of("high-cold@example.org") is not None):
            sys.exit("the cold high message did not arrive")
        at, idx, lows_before = sink.arrival_of("high-cold@example.org")
        rows.append(("high, queued before start", "server start", at - t_start, lows_before, low - lows_before))
        print("cold: the server listened %.3f s after its start; the high message arrived %.3f s after the "
              "start, as message %d at the sink" % (t_listening - t_start, at - t_start, idx + 1))

        if not sink.wait(lambda: sink.lows >= 2000, 120):
            sys.exit("deliveries did not flow: %d low arrived" % sink.lows)
        rng = random.Random(14)
        for k in range(highs):
            for kind in ("high", "smtp"):
                time.sleep(rng.uniform(0.3, 1.3))
                if kind == "high":
                    sender = "high-%d@example.org" % k
                    with sink.lock:
                        lows_then = sink.lows
                    t0 = time.monotonic()
                    queue_add(config, work, sender, "high")
                    took = time.monotonic() - t0
                    label, since = "high, `ringmail queue add`", "start of queue add (%.3f s)" % took
                else:
                    sender = "medium-%d@example.org" % k
                    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=WAIT) as c:
                        c.ehlo("bench.example")
                        with sink.lock:
                            lows_then = sink.lows
                        c.mail(sender)
                        c.rcpt(RCPT)
                        code, text = c.data(b"From: %s\r\nSubject: priority bench\r\n\r\nmedium\r\n" % sender.encode())
                        t0 = time.monotonic()
                        if code != 250:
                            sys.exit("SMTP: %d %s" % (code, text))
                    label, since = "medium, over SMTP", "the 250"
                if not sink.wait(lambda: sink.arrival_of(sender) is not None):
                    sys.exit("%s did not arrive within %d s" % (sender, WAIT))
                with sink.lock:
                    at, idx, lows_before = sink.arrival_of(sender)
                rows.append((label, since, at - t0, lows_before - lows_then, low - lows_before))
        with sink.lock:
            arrived, first, last = sink.count, sink.first_t, sink.last_t
        server.send_signal(signal.SIGTERM)
        rc = server.wait(timeout=60)
        server = None
        print("sink: %d messages in %.1f s (%.0f/s); ringmail exit %d" %
              (arrived, last - first, (arrived - 1) / max(last - first, 1e-9), rc))
        print()
        print("| message | measured from (queue add's own time) | seconds to the sink | low ones delivered in between | low ones still queued |")
        print("|---|---|--:|--:|--:|")
        for label, since, secs, between, left in rows:
            print("| %s | %s | %.3f | %d | %d |" % (label, since, secs, between, left))
        worst = max(r[2] for r in rows)
        print()
        print("worst: %.3f s (target: within 1 s)" % worst)
    finally:
        if server is not None and server.poll() is None:
            os.kill(server.pid, signal.SIGKILL)
            server.wait(timeout=60)
        if sink is not None:
            sink.stop()
        if os.environ.get("KEEP") == "1":
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
