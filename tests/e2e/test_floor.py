# tests/e2e/test_floor.py — the built ringmail-floor (bench/floor/, the null SMTP server that
# bench/compare_peers.sh measures ringmail against) on 127.0.0.1 port 0: smtplib sessions, a
# pipelined group in one write, an empty body, a terminator split over writes, more replies
# than its send buffer holds, 40 connections at once, and exit status 0 after SIGTERM.
# No assertions on time.
import os
import select
import signal
import smtplib
import socket
import subprocess
import time
import unittest

FLOOR = os.environ.get("RINGMAIL_FLOOR", "")
START_TIMEOUT = 30.0  # seconds to wait for the listening line
IO_TIMEOUT = 30.0     # per socket operation and for the exit after SIGTERM


def start_floor(threads=2):
    """Starts ringmail-floor on 127.0.0.1:0; returns (Popen, port) once it printed the port."""
    if not FLOOR or not os.access(FLOOR, os.X_OK):
        raise unittest.SkipTest("set RINGMAIL_FLOOR to the built ringmail-floor binary")
    p = subprocess.Popen([FLOOR, "--listen", "127.0.0.1:0", "--threads", str(threads)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = b""
    deadline = time.monotonic() + START_TIMEOUT
    while not line.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([p.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        c = os.read(p.stdout.fileno(), 1)
        if not c:
            break
        line += c
    if not line.startswith(b"listening on 127.0.0.1:"):
        p.kill()
        p.wait(IO_TIMEOUT)
        err = p.stderr.read().decode(errors="replace")
        if "io_uring" in err and ("disabled" in err or "not available" in err or "Operation not permitted" in err):
            raise unittest.SkipTest("io_uring unavailable: " + err.strip())
        raise AssertionError("ringmail-floor did not start: %r %r" % (line, err))
    return p, int(line.split(b":")[1])


def read_until_closed(sock):
    data = b""
    for _ in range(10000):  # bounded: each pass reads at least one byte or ends
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def codes(data):
    """One code per reply: continuation lines ("250-...") are left out."""
    return [int(line[:3]) for line in data.split(b"\r\n") if len(line) >= 4 and line[3:4] == b" "]


class Floor(unittest.TestCase):
    def setUp(self):
        self.proc, self.port = start_floor()

    def tearDown(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(IO_TIMEOUT)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def raw(self):
        s = socket.create_connection(("127.0.0.1", self.port), IO_TIMEOUT)
        self.addCleanup(s.close)
        return s

    def test_smtplib_messages_on_one_connection(self):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=IO_TIMEOUT) as c:
            code, _ = c.ehlo("client.example")
            self.assertEqual(code, 250)
            self.assertTrue(c.has_extn("pipelining"))
            self.assertTrue(c.has_extn("8bitmime"))
            self.assertTrue(c.has_extn("size"))
            bodies = ["Subject: one\r\n\r\nhello\r\n",
                      "Subject: dots\r\n\r\n.\r\n..\r\n.leading dot\r\n",  # smtplib dot-stuffs these
                      "Subject: big\r\n\r\n" + "x" * 998 + "\r\n" * 200 + "y" * 70000 + "\r\n"]
            for body in bodies:
                self.assertEqual(c.sendmail("a@example.com", ["b@example.com", "c@example.com"], body), {})
            self.assertEqual(c.noop()[0], 250)
            self.assertEqual(c.rset()[0], 250)
            self.assertEqual(c.docmd("VRFY", "b")[0], 500)

    def test_pipelined_group_in_one_write(self):
        s = self.raw()
        s.sendall(b"EHLO x\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\nDATA\r\n"
                  b"body\r\n..stuffed\r\n.\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n.\r\nQUIT\r\nNOOP\r\n")
        self.assertEqual(codes(read_until_closed(s)), [220, 250, 250, 250, 250, 354, 250, 250, 250, 354, 250, 221])

    def test_end_of_data_split_over_writes(self):
        s = self.raw()
        s.sendall(b"HELO x\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n")
        # The terminator in five writes; NOOP inside the body must not be answered.
        for part in (b"text\r\nNOOP\r", b"\n", b".", b"\r", b"\nQUIT\r\n"):
            s.sendall(part)
        self.assertEqual(codes(read_until_closed(s)), [220, 250, 250, 250, 354, 250, 221])

    def test_more_pipelined_replies_than_its_send_buffer(self):
        # 3,000 replies (about 42 KB) to one write: more than the 4 KiB per-connection send
        # buffer holds, so the server must stop reading and go on after each send.
        s = self.raw()
        s.sendall(b"NOOP\r\n" * 3000 + b"QUIT\r\n")
        self.assertEqual(codes(read_until_closed(s)), [220] + [250] * 3000 + [221])

    def test_forty_connections_at_once(self):
        socks = [self.raw() for _ in range(40)]
        for s in socks:
            s.sendall(b"EHLO x\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n")
        for s in socks:
            s.sendall(b"m\r\n.\r\nQUIT\r\n")
        for s in socks:
            self.assertEqual(codes(read_until_closed(s)), [220, 250, 250, 250, 354, 250, 221])

    def test_sigterm_exits_zero(self):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=IO_TIMEOUT) as c:
            self.assertEqual(c.sendmail("a@x", ["b@x"], "Subject: x\r\n\r\ny\r\n"), {})
        idle = self.raw()  # an open connection must not keep it from exiting
        self.assertEqual(idle.recv(100)[:4], b"220 ")
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(IO_TIMEOUT), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
