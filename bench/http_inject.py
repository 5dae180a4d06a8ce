#!/usr/bin/python3
"""bench/http_inject.py — issue 15's HTTP injection figure: RECIPIENTS recipients, each with
its own substitutions, queued through POST /api/inject/v1, against the same messages
(merged by this script) sent over SMTP, in one run; recipients queued per second.

Usage (from the repository root, after `ninja -C build`):

    /usr/bin/python3 bench/http_inject.py [RECIPIENTS=10000] [PER_REQUEST=1000] [CLIENTS=4]

RINGMAIL (build/tools/ringmail) in the environment names another binary; TMPDIR where the
queues go; KEEP=1 keeps the work directory.

What it does (only loopback; every wait bounded in time):
1. HTTP: starts `ringmail serve` (handler = queue, a fresh queue, the HTTP API on a free
   port, `[relay] smarthost` = a loopback listener that never greets, so queued mail stays
   queued: the figure is the queueing, not the delivery), then CLIENTS threads
   POST requests of PER_REQUEST recipients each (an object content: subject, text and
   HTML bodies with `{{ name }}` and `{{ code }}`; every recipient its own values), until
   RECIPIENTS are queued. Each request is one durable commit.
2. SMTP: a fresh server and queue the same way; CLIENTS processes send the same
   RECIPIENTS messages (merged here, one recipient each, as the HTTP API makes them) with
   Python's smtplib, one connection per process, one transaction per message.
3. Checks that each queue holds RECIPIENTS messages (`ringmail queue list --json`), stops
   each server with SIGTERM, and prints recipients/s for both and their ratio, with the
   server's CPU seconds (from /proc) per 1,000 recipients.
The clients run on the same 2 cores as the server: Python's smtplib costs more CPU per
message than the HTTP client does per recipient, which is part of what the figure shows.
"""
import json
import multiprocessing
import os
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
import urllib.request
from email import policy
from email.message import EmailMessage

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RINGMAIL = os.environ.get("RINGMAIL", os.path.join(ROOT, "build/tools/ringmail"))
WAIT = 120.0  # seconds: bound on any one wait
SUBJECT = "Your order, {{ name }}"
TEXT = "Dear {{ name }},\n\nyour code is {{ code }}. " + "Thank you for your order. " * 20 + "\n"
HTML = "<p>Dear {{ name }},</p><p>your code is <b>{{ code }}</b>.</p>" + "<p>Thank you for your order.</p>" * 10


def recipient(i):
    return {"email": "user%d@example.com" % i, "substitutions": {"name": "User %d" % i, "code": "%08d" % (i * 7919)}}


def merged(text, subs):
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: subs.get(m.group(1), ""), text)


def silent_listener():
    """A smarthost that takes connections (the kernel completes them) and never greets:
    the relay's connections wait for a greeting, and queued mail just stays queued, with
    no delivery attempt per message (a refused connection would be one per message)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    return s


class Server:
    def __init__(self, work, name):
        self.smarthost = silent_listener()
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        self.ini = os.path.join(self.dir, "mail.ini")
        with open(self.ini, "w") as f:
            f.write("port = 0\nhandler = queue\n" + os.environ.get("EXTRA", "") + "[relay]\nqueue_dir = %s\nsmarthost = 127.0.0.1:%d\n"
                    "retry_base = 1h\nretry_max = 4h\n[http]\nlisten = 127.0.0.1:0\n"
                    % (os.path.join(self.dir, "queue"), self.smarthost.getsockname()[1]))
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.proc = subprocess.Popen([RINGMAIL, "serve", "--config", self.ini], stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + WAIT
        self.port = self.http = None
        while time.monotonic() < deadline and self.proc.poll() is None:
            text = open(os.path.join(self.dir, "server.log"), "rb").read()
            m, h = re.search(rb"listening on 127\.0\.0\.1:(\d+)", text), re.search(rb"HTTP API on 127\.0\.0\.1:(\d+)", text)
            if m and h:
                self.port, self.http = int(m.group(1)), int(h.group(1))
                return
            time.sleep(0.05)
        raise SystemExit("ringmail did not start: see " + self.log.name)

    def cpu(self):
        f = open("/proc/%d/stat" % self.proc.pid).read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

    def queued(self):
        out = subprocess.run([RINGMAIL, "queue", "list", "--config", self.ini, "--status", "queued", "--json"],
                             capture_output=True, check=True, timeout=WAIT).stdout
        return len(json.loads(out))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        self.smarthost.close()


def run_http(server, total, per_request, clients):
    starts = list(range(0, total, per_request))
    lock = threading.Lock()
    errors = []

    def worker():
        while True:
            with lock:
                if not starts:
                    return
                first = starts.pop(0)
            body = json.dumps({
                "envelope_sender": "shop@example.org",
                "content": {"subject": SUBJECT, "from": {"email": "shop@example.org", "name": "Shop"},
                            "text_body": TEXT, "html_body": HTML},
                "recipients": [recipient(i) for i in range(first, min(total, first + per_request))],
            }).encode()
            req = urllib.request.Request("http://127.0.0.1:%d/api/inject/v1" % server.http, data=body,
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=WAIT) as r:
                    reply = json.loads(r.read())
                if reply.get("success_count") != min(total, first + per_request) - first:
                    raise RuntimeError("reply %r" % reply)
            except Exception as e:  # noqa: BLE001 — reported below, the run fails
                with lock:
                    errors.append(str(e))
                return

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    elapsed = time.monotonic() - t0
    if errors:
        raise SystemExit("HTTP injection failed: " + errors[0])
    return elapsed


def smtp_worker(args):
    port, indexes = args
    with smtplib.SMTP("127.0.0.1", port, timeout=WAIT) as s:
        for i in indexes:
            r = recipient(i)
            m = EmailMessage()
            m["From"] = "Shop <shop@example.org>"
            m["To"] = r["email"]
            m["Subject"] = merged(SUBJECT, r["substitutions"])
            m.set_content(merged(TEXT, r["substitutions"]))
            m.add_alternative(merged(HTML, r["substitutions"]), subtype="html")
            s.sendmail("shop@example.org", [r["email"]], m.as_bytes(policy=policy.SMTP))  # CRLF
    return len(indexes)


def run_smtp(server, total, clients):
    shares = [(server.port, list(range(k, total, clients))) for k in range(clients)]
    t0 = time.monotonic()
    with multiprocessing.Pool(clients) as pool:
        sent = sum(pool.map(smtp_worker, shares))
    elapsed = time.monotonic() - t0
    if sent != total:
        raise SystemExit("SMTP: %d of %d sent" % (sent, total))
    return elapsed


def main():
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    per_request = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    clients = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    work = tempfile.mkdtemp(prefix="ringmail-http-inject-")
    results = {}
    try:
        for name in ("http", "smtp"):
            server = Server(work, name)
            try:
                cpu0 = server.cpu()
                elapsed = run_http(server, total, per_request, clients) if name == "http" else run_smtp(server, total, clients)
                cpu = server.cpu() - cpu0
                queued = server.queued()
                if queued != total:
                    raise SystemExit("%s: %d of %d messages in the queue" % (name, queued, total))
                results[name] = (elapsed, cpu)
            finally:
                server.stop()
    finally:
        if os.environ.get("KEEP"):
            print("work directory kept: " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("%d recipients, one message each (subject, text and HTML merged per recipient); %d clients; "
          "HTTP: %d recipients per request" % (total, clients, per_request))
    print("| path | seconds | recipients/s | server CPU s per 1,000 recipients |")
    print("|---|--:|--:|--:|")
    for name in ("http", "smtp"):
        elapsed, cpu = results[name]
        print("| %s | %.2f | %.0f | %.3f |" % ("HTTP inject" if name == "http" else "SMTP (smtplib)", elapsed,
                                               total / elapsed, cpu * 1000 / total))
    print("HTTP/SMTP: %.2fx recipients/s" % (results["smtp"][0] / results["http"][0]))


if __name__ == "__main__":
    main()
