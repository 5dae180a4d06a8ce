#!/usr/bin/python3
"""bench/relay_memory.py — issue 14's memory figure: at most 1 KiB of RAM per queued
message with 1,000,000 messages queued, many of them scheduled for later.

Usage (from the repository root, after `ninja -C build`):

    /usr/bin/python3 bench/relay_memory.py [LATER=990000] [DUE=10000] [SECONDS=20]

RINGMAIL (build/tools/ringmail) and ENQUEUE (build/bench/relay_enqueue) in the environment
name other binaries; TMPDIR where the queue goes (needs about 5 GB and LATER + DUE inodes
free: one spool file per body); KEEP=1 keeps the work directory.

What it does (only loopback; every wait bounded):
1. fills a new queue with bench/relay_enqueue, 200-octet bodies in batches of 1,000: LATER
   messages not before 30 days from now, then DUE messages due at once, all to
   r@[127.0.0.2], where nothing listens on `mx_port` (the sink is absent: each due delivery
   is refused and deferred, 5 min by default);
2. runs `ringmail serve` (handler = queue, [relay] queue_dir and mx_port, defaults
   otherwise) on an empty queue for SECONDS, then on the full one for SECONDS, and reads
   VmRSS every second and VmHWM at the end from /proc/PID/status;
3. prints both, the deferrals the server logged (its scheduler at work), and
   (RSS full - RSS empty) / (LATER + DUE) in bytes per queued message.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RINGMAIL = os.environ.get("RINGMAIL", os.path.join(ROOT, "build/tools/ringmail"))
ENQUEUE = os.environ.get("ENQUEUE", os.path.join(ROOT, "build/bench/relay_enqueue"))
RCPT = "r@[127.0.0.2]"
START_WAIT = 600.0  # seconds: opening a queue of a million checks every spool file


def free_port(host):
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def status_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def run_server(work, name, qdir, mx_port, seconds):
    """Starts a server on `qdir`, samples its memory for `seconds` after it listens."""
    config = os.path.join(work, name + ".ini")
    with open(config, "w") as f:
        f.write("port = 0\nhandler = queue\n[relay]\nqueue_dir = %s\nmx_port = %d\ntls = none\n[http]\nlisten =\n" % (qdir, mx_port))
    err_path = os.path.join(work, name + ".stderr")
    with open(err_path, "wb") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen([RINGMAIL, "serve", "--config", config], cwd=work, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
    try:
        m = None
        for _ in range(int(START_WAIT / 0.05)):
            with open(err_path, "rb") as f:
                m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", f.read())
            if m or proc.poll() is not None or time.monotonic() - t0 > START_WAIT:
                break
            time.sleep(0.05)
        if not m:
            sys.exit("ringmail did not start: " + open(err_path).read()[-2000:])
        listening = time.monotonic() - t0
        rss = []
        for _ in range(int(seconds)):
            time.sleep(1.0)
            if proc.poll() is not None:
                sys.exit("ringmail exited: " + open(err_path).read()[-2000:])
            rss.append(status_kb(proc.pid, "VmRSS"))
        hwm = status_kb(proc.pid, "VmHWM")
        threads = status_kb(proc.pid, "Threads")
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    with open(err_path, "rb") as f:
        log = f.read().decode("utf-8", "replace")
    deferred = log.count("status=deferred")
    return {"listening_s": listening, "rss": rss, "hwm": hwm, "threads": threads, "rc": rc, "deferred": deferred}


def main():
    later = int(sys.argv[1]) if len(sys.argv) > 1 else 990000
    due = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    for exe in (RINGMAIL, ENQUEUE):
        if not os.access(exe, os.X_OK):
            sys.exit("not built: " + exe)
    work = tempfile.mkdtemp(prefix="relay-memory-")
    try:
        qdir = os.path.join(work, "queue")
        for n, extra in ((later, ["--not-before", str(30 * 86400), "--priority", "low"]), (due, [])):
            if n == 0:
                continue
            t = time.monotonic()
            fill = subprocess.run([ENQUEUE, qdir, str(n), "1000", "200", "--to", RCPT] + extra,
                                  capture_output=True, timeout=3600)
            if fill.returncode != 0:
                sys.exit("relay_enqueue failed: " + fill.stderr.decode())
            print("fill: %s (%.1f s wall)" % (fill.stdout.decode().strip(), time.monotonic() - t), flush=True)
        db = sum(os.path.getsize(os.path.join(qdir, f)) for f in os.listdir(qdir) if f.startswith("queue.db"))
        print("queue.db (with -wal): %.1f MB" % (db / 1e6), flush=True)
        mx_port = free_port("127.0.0.2")  # nothing listens there: deliveries are refused

        empty = run_server(work, "empty", os.path.join(work, "empty-queue"), mx_port, seconds)
        full = run_server(work, "full", qdir, mx_port, seconds)
        queued = later + due
        print()
        print("| queue | messages | listening after s | VmRSS at 5 s | VmRSS at %d s | VmHWM | threads | deferred "
              "in the log |" % seconds)
        print("|---|--:|--:|--:|--:|--:|--:|--:|")
        for name, r, n in (("empty", empty, 0), ("full", full, queued)):
            print("| %s | %d | %.2f | %.1f MB | %.1f MB | %.1f MB | %d | %d |" %
                  (name, n, r["listening_s"], r["rss"][min(4, len(r["rss"]) - 1)] / 1024, r["rss"][-1] / 1024,
                   r["hwm"] / 1024, r["threads"], r["deferred"]))
        print()
        per = (full["rss"][-1] - empty["rss"][-1]) * 1024 / queued
        per_hwm = (full["hwm"] - empty["hwm"]) * 1024 / queued
        print("RSS per queued message: %.1f bytes at the end, %.1f bytes at the peak (VmHWM); target <= 1024" %
              (per, per_hwm))
        print("exit status: empty %d, full %d" % (empty["rc"], full["rc"]))
    finally:
        if os.environ.get("KEEP") == "1":
            print("kept", work)
        else:
            t = time.monotonic()
            shutil.rmtree(work, ignore_errors=True)
            print("removed the work directory in %.0f s" % (time.monotonic() - t))


if __name__ == "__main__":
    main()
