# tests/e2e/ringmail_e2e.py — shared helpers for the end-to-end tests: start the built
# `ringmail serve` on a free loopback port in a temporary directory, talk raw SMTP, and
# read the Maildir back. Every process started here is killed by its PID at cleanup;
# every wait is a bounded poll on a condition, never a sleep standing in for one.
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

# The binary comes from meson (env RINGMAIL); a path on the command line also works.
RINGMAIL = os.environ.get("RINGMAIL", "")

START_TIMEOUT = 30.0   # seconds to wait for the listening line
STOP_TIMEOUT = 60.0    # seconds to wait for exit after a signal
IO_TIMEOUT = 30.0      # per socket operation

# 127.0.0.1 with local = true (the default), [::] with local = false.
LISTENING_RE = re.compile(rb"(?:ringmail: |\"msg\":\")listening on (?:127\.0\.0\.1|\[::\]):(\d+) with (\d+) reactors, handler ([^\"\n]*)")
# Printed in the same write as the first line with handler = queue (the HTTP API).
HTTP_LISTENING_RE = re.compile(rb"(?:ringmail: |\"msg\":\")HTTP API on (?:127\.0\.0\.1|\[::1\]):(\d+)")
# Printed in the same write as the line above when tls_port is set.
TLS_LISTENING_RE = re.compile(rb"(?:ringmail: |\"msg\":\")listening for TLS on (?:127\.0\.0\.1|\[::\]):(\d+)")
# <sec>.M<usec>P<pid>Q<n>.<host>,S=<size> (Maildir naming, plus Dovecot's S=).
MAILDIR_NAME_RE = re.compile(r"^(\d+)\.M(\d+)P(\d+)Q(\d+)\.([^/:,]+),S=(\d+)$")
MESSAGE_ID_RE = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]*>)", re.IGNORECASE | re.MULTILINE)

CRLF = b"\r\n"


def binary():
    if not RINGMAIL or not os.access(RINGMAIL, os.X_OK):
        raise unittest.SkipTest("set RINGMAIL to the built ringmail binary")
    return RINGMAIL


def poll(cond, timeout, interval=0.02):
    """Calls cond() until it returns a true value or `timeout` seconds pass; returns
    the last value. Bounded in time and, through the interval, in count."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / interval) + 2):
        value = cond()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)
    return cond()


class Server:
    """One `ringmail serve` process. `config` (dict) is written as the INI file; with
    None the server writes its defaults. The handler defaults to a Maildir in `workdir`."""

    def __init__(self, workdir, handler=None, config=None, reactors=2, maildir="Maildir", extra_args=()):
        self.workdir = workdir
        self.maildir = os.path.join(workdir, maildir)
        self.handler = handler if handler is not None else "maildir:" + self.maildir
        self.config_path = os.path.join(workdir, "mail.ini")
        self.config = config
        self.reactors = reactors
        self.proc = None
        self.port = None
        self.tls_port = None  # set when the server listens for implicit TLS
        self.http_port = None  # set when the HTTP API runs (handler = queue)
        self.extra_args = list(extra_args)
        self.stderr_path = None
        self.stdout_path = None
        self._runs = 0

    def args(self):
        # The HTTP API (handler = queue) on a free port too, so that servers of tests run
        # at once never meet on [http]'s default port.
        http = ["--http-listen", "127.0.0.1:0"] if self.handler == "queue" else []
        return [binary(), "serve", "--config", self.config_path, "--init", "--port", "0",
                "--reactors", str(self.reactors), "--handler", self.handler] + http + self.extra_args

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        if self.config is not None:
            write_config(self.config_path, self.config)
        self._runs += 1
        self.stderr_path = os.path.join(self.workdir, "stderr.%d.txt" % self._runs)
        self.stdout_path = os.path.join(self.workdir, "stdout.%d.txt" % self._runs)
        with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
            self.proc = subprocess.Popen(self.args(), cwd=self.workdir, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err)
        line = poll(lambda: self._listening_line() or self.proc.poll() is not None, START_TIMEOUT)
        m = self._listening_line()
        if not m:
            self.kill()
            raise AssertionError("ringmail did not start (%r): %s" % (line, self.stderr()))
        self.port = int(m.group(1))
        with open(self.stderr_path, "rb") as f:
            t = TLS_LISTENING_RE.search(f.read())
            self.tls_port = int(t.group(1)) if t else None
            f.seek(0)
            h = HTTP_LISTENING_RE.search(f.read())
        self.http_port = int(h.group(1)) if h else None
        return self

    def _listening_line(self):
        with open(self.stderr_path, "rb") as f:
            return LISTENING_RE.search(f.read())

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read()

    def stderr(self):
        if not self.stderr_path:
            return ""
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        if self.running():
            os.kill(self.proc.pid, sig)

    def wait(self, timeout=STOP_TIMEOUT):
        """The exit status, or None if it is still running after `timeout`."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Sends `sig` and returns the exit status; kills it and fails if it hangs."""
        self.send_signal(sig)
        rc = self.wait(timeout)
        if rc is None:
            self.kill()
            raise AssertionError("ringmail did not exit within %ss of signal %d: %s" % (timeout, sig, self.stderr()))
        return rc

    def kill(self):
        """SIGKILL to our own child by PID, then reap it. Safe to call more than once."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass

    def connect(self, timeout=IO_TIMEOUT):
        return RawClient(self.port, timeout)


def write_config(path, config):
    """Keys with plain values first; a dict value is a section: {"relay": {...}} → [relay]."""
    with open(path, "w") as f:
        for k, v in config.items():
            if not isinstance(v, dict):
                f.write("%s = %s\n" % (k, v))
        for name, section in config.items():
            if isinstance(section, dict):
                f.write("[%s]\n" % name)
                for k, v in section.items():
                    f.write("%s = %s\n" % (k, v))


class ServerTestCase(unittest.TestCase):
    """A temp directory per test, and servers in it that are always killed afterwards."""

    def setUp(self):
        binary()
        tmp = tempfile.TemporaryDirectory(prefix="ringmail-e2e-")
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name

    def server(self, **kw):
        s = Server(self.tmp, **kw)
        self.addCleanup(s.kill)  # runs before the temp dir goes (cleanups are LIFO)
        return s.start()

    def assert_stopped_cleanly(self, server):
        rc = server.stop(signal.SIGTERM)
        self.assertEqual(rc, 0, server.stderr())


# ---- raw SMTP ----

class Reply:
    def __init__(self, code, lines):
        self.code = code
        self.lines = lines  # text after "NNN-" / "NNN "

    def __repr__(self):
        return "Reply(%d, %r)" % (self.code, self.lines)


class RawClient:
    """A plain socket speaking SMTP: send exact bytes, read whole (multi-line) replies."""

    def __init__(self, port, timeout=IO_TIMEOUT, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _line(self):
        for _ in range(100000):  # bounded: each round reads or returns
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
                return line
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection; unread: %r" % self.buf)
            self.buf += chunk
        raise AssertionError("no line")

    def reply(self):
        lines = []
        for _ in range(1000):
            line = self._line()
            if not line.endswith(CRLF) or len(line) < 5 or not line[:3].isdigit() or line[3:4] not in (b" ", b"-"):
                raise AssertionError("malformed reply line %r" % line)
            lines.append(line[4:-2].decode("utf-8", "replace"))
            if line[3:4] == b" ":
                return Reply(int(line[:3]), lines)
        raise AssertionError("reply too long")

    def replies(self, n):
        return [self.reply() for _ in range(n)]

    def codes(self, n):
        return [r.code for r in self.replies(n)]

    def cmd(self, line):
        self.send(line.encode() + CRLF if isinstance(line, str) else line + CRLF)
        return self.reply()

    def greet_ehlo(self, name="client.example"):
        greeting = self.reply()
        assert greeting.code == 220, greeting
        ehlo = self.cmd("EHLO " + name)
        assert ehlo.code == 250, ehlo
        return [l.upper() for l in ehlo.lines[1:]]

    def closed(self):
        """True once the server has closed the connection (EOF), reading at most 1 MiB."""
        for _ in range(16):
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return True
            if not chunk:
                return True
            self.buf += chunk
        return False


# ---- messages ----

def make_message(msgid, body_lines=(), subject="test", extra_headers=()):
    """An RFC 5322 message with CRLF line ends, ending in CRLF, carrying `msgid`."""
    head = [b"From: Sender <sender@example.org>", b"To: rcpt@example.com",
            b"Subject: " + subject.encode(), b"Message-ID: " + msgid.encode()]
    head += [h if isinstance(h, bytes) else h.encode() for h in extra_headers]
    body = [l if isinstance(l, bytes) else l.encode() for l in body_lines]
    return CRLF.join(head) + CRLF + CRLF + b"".join(l + CRLF for l in body)


def dot_stuff(msg):
    """The DATA form of a CRLF message that ends in CRLF (RFC 5321 4.5.2), with the end."""
    assert msg.endswith(CRLF) or not msg
    lines = msg.split(CRLF)[:-1] if msg else []
    return b"".join((b"." + l if l.startswith(b".") else l) + CRLF for l in lines) + b"." + CRLF


def message_id(data):
    m = MESSAGE_ID_RE.search(data)
    return m.group(1).decode() if m else None


def delivered_to(data):
    """The addresses of the Delivered-To fields after Return-Path, in order."""
    out = []
    for line in data.split(CRLF)[1:]:
        if not line.startswith(b"Delivered-To: "):
            break
        out.append(line[len(b"Delivered-To: "):].decode())
    return out


def split_trace(data, sender):
    """Checks the trace fields ringmail prepends — `Return-Path: <sender>`, one
    `Delivered-To: addr` line per recipient, and one folded `Received:` field, CRLF line
    ends, continuations starting with a tab — and returns exactly the bytes after them."""
    first = b"Return-Path: <" + sender.encode() + b">" + CRLF
    if not data.startswith(first):
        raise AssertionError("no Return-Path <%s> first: %r" % (sender, data[:200]))
    rest = data[len(first):]
    while rest.startswith(b"Delivered-To: "):
        end = rest.find(CRLF)
        if end < 0 or b"\r" in rest[:end] or b"\n" in rest[:end] or b"@" not in rest[:end]:
            raise AssertionError("bad Delivered-To field: %r" % rest[:200])
        rest = rest[end + 2:]
    if not rest.startswith(b"Received: "):
        raise AssertionError("no Received field second: %r" % rest[:200])
    pos = 0
    for n in range(64):  # a folded field of a few lines
        end = rest.find(CRLF, pos)
        if end < 0:
            raise AssertionError("unterminated Received field: %r" % rest[:400])
        line = rest[pos:end]
        if b"\n" in line or b"\r" in line:
            raise AssertionError("bare CR or LF in the Received field: %r" % rest[:400])
        if n > 0 and not line.startswith(b"\t"):
            raise AssertionError("Received continuation without a tab: %r" % line)
        pos = end + 2
        if not rest[pos:pos + 1] == b"\t":
            return rest[pos:]
    raise AssertionError("Received field too long")


def maildir_files(maildir, sub="new"):
    """{name: bytes} of the files in maildir/sub; checks each name and its S= size."""
    d = os.path.join(maildir, sub)
    out = {}
    if not os.path.isdir(d):
        return out
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            data = f.read()
        if sub == "new":
            m = MAILDIR_NAME_RE.match(name)
            if not m:
                raise AssertionError("bad Maildir name %r" % name)
            if int(m.group(6)) != len(data):
                raise AssertionError("%s: S=%s but %d bytes" % (name, m.group(6), len(data)))
        out[name] = data
    return out


def stored_messages(maildir, sender):
    """The messages in maildir/new with the trace fields stripped, keyed by Message-ID
    (a list per id, so duplicates show)."""
    by_id = {}
    for name, data in maildir_files(maildir).items():
        msg = split_trace(data, sender)
        by_id.setdefault(message_id(msg), []).append(msg)
    return by_id


def count_files(maildir, sub="new"):
    d = os.path.join(maildir, sub)
    return len(os.listdir(d)) if os.path.isdir(d) else 0


def main():
    """unittest.main, taking the binary as an optional first argument."""
    global RINGMAIL
    if len(sys.argv) > 1 and os.path.isfile(sys.argv[1]):
        RINGMAIL = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
