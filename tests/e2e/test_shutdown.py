# tests/e2e/test_shutdown.py — stopping under load. SIGTERM: no new connections, the
# transactions in flight finish, exit 0, and every message that got a 250 is in the
# Maildir. kill -9: after a restart every 250-acknowledged message is in new/ exactly once,
# byte for byte, and new/ holds no partial message (invariant 6). Messages carry unique
# Message-IDs so that each stored file is matched to what was sent.
import os
import signal
import smtplib
import socket
import threading

import ringmail_e2e as e2e
from ringmail_e2e import make_message

SENDER = "shutdown@example.org"
THREADS = 40
MESSAGES_PER_THREAD = 200   # bounds each client's loop
PER_CONNECTION = 5          # then QUIT and reconnect: connects happen during the stop too
ACKED_BEFORE_STOP = 300     # the signal goes out once this many messages got a 250
WAIT_FOR_ACKS = 120.0
JOIN_TIMEOUT = 120.0


class Load:
    """THREADS smtplib clients delivering until told to stop or out of messages. `acked`
    holds each message that got its 250, `sent` every message that was attempted."""

    def __init__(self, port, tag):
        self.port = port
        self.tag = tag
        self.lock = threading.Lock()
        self.sent = {}
        self.acked = {}
        self.errors = []   # failures before the stop: test failures
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.client, args=(i,), daemon=True) for i in range(THREADS)]

    def message(self, i, n):
        msgid = "<%s-%d-%d@example.org>" % (self.tag, i, n)
        lines = ["client %d message %d" % (i, n), ".", ".."] + ["l" * 120] * ((i * 31 + n * 17) % 300)
        return msgid, make_message(msgid, lines)

    def client(self, i):
        n = 0
        while n < MESSAGES_PER_THREAD and not self.stopping.is_set():
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=e2e.IO_TIMEOUT) as c:
                    for _ in range(PER_CONNECTION):
                        if n >= MESSAGES_PER_THREAD:
                            break
                        msgid, msg = self.message(i, n)
                        n += 1
                        with self.lock:
                            self.sent[msgid] = msg
                        c.sendmail(SENDER, ["rcpt%d@example.com" % i], msg)  # raises unless 250
                        with self.lock:
                            self.acked[msgid] = msg
            except (OSError, smtplib.SMTPException) as e:
                if self.stopping.is_set():
                    return  # refused, 421 or cut off by the stop: expected
                with self.lock:
                    self.errors.append("client %d: %r" % (i, e))
                return

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def acked_count(self):
        with self.lock:
            return len(self.acked)

    def join(self):
        for t in self.threads:
            t.join(JOIN_TIMEOUT)
        return [t for t in self.threads if t.is_alive()]


class Shutdown(e2e.ServerTestCase):
    def start_load(self, server, tag):
        load = Load(server.port, tag)
        # Always stop our threads, even when an assertion fails first.
        self.addCleanup(load.join)
        self.addCleanup(load.stopping.set)
        load.start()
        e2e.poll(lambda: load.acked_count() >= ACKED_BEFORE_STOP or load.errors, WAIT_FOR_ACKS)
        self.assertEqual(load.errors, [])
        self.assertGreaterEqual(load.acked_count(), ACKED_BEFORE_STOP)
        return load

    def check_maildir(self, server, load):
        """Every acked message exactly once and byte for byte; every file in new/ complete
        (equal to a message that was sent)."""
        stored = e2e.stored_messages(server.maildir, SENDER)
        missing = sorted(set(load.acked) - set(stored))
        self.assertEqual(missing, [], "%d acknowledged messages missing" % len(missing))
        for msgid, msgs in stored.items():
            self.assertIn(msgid, load.sent, "a stored message nobody sent")
            self.assertEqual(len(msgs), 1, "%s stored %d times" % (msgid, len(msgs)))
            self.assertEqual(msgs[0], load.sent[msgid], "%s differs from what was sent" % msgid)
        return stored

    def test_sigterm_during_load(self):
        s = self.server(reactors=2)
        load = self.start_load(s, "term")
        load.stopping.set()
        s.send_signal(signal.SIGTERM)
        rc = s.wait()
        self.assertEqual(load.join(), [], "clients did not finish")
        self.assertEqual(rc, 0, s.stderr())
        self.assertEqual(load.errors, [])
        stored = self.check_maildir(s, load)
        self.assertGreaterEqual(len(stored), ACKED_BEFORE_STOP)
        # A clean stop leaves no half-written file behind.
        self.assertEqual(e2e.count_files(s.maildir, "tmp"), 0)

    def test_kill_9_during_load_then_restart(self):
        s = self.server(reactors=2)
        load = self.start_load(s, "kill")
        load.stopping.set()
        s.kill()
        self.assertEqual(load.join(), [], "clients did not finish")
        self.assertEqual(load.errors, [])
        self.check_maildir(s, load)
        # tmp/ may keep what was cut off; new/ only ever gets whole messages.
        s.start()
        after = make_message("<after-restart@example.org>", ["still delivering"])
        with smtplib.SMTP("127.0.0.1", s.port, timeout=e2e.IO_TIMEOUT) as c:
            c.sendmail(SENDER, ["rcpt@example.com"], after)
        load.sent["<after-restart@example.org>"] = load.acked["<after-restart@example.org>"] = after
        self.check_maildir(s, load)
        self.assert_stopped_cleanly(s)

    def test_sigterm_lets_a_transaction_in_flight_finish(self):
        s = self.server(reactors=1)
        msg = make_message("<in-flight@example.org>", ["x" * 500] * 200)
        half = len(msg) // 2
        with s.connect() as busy, s.connect() as idle:
            busy.greet_ehlo()
            idle.greet_ehlo()
            busy.send(b"MAIL FROM:<%s>\r\nRCPT TO:<r@example.com>\r\nDATA\r\n" % SENDER.encode())
            self.assertEqual(busy.codes(3), [250, 250, 354])
            busy.send(msg[:half])
            s.send_signal(signal.SIGTERM)
            self.assertTrue(e2e.poll(lambda: "finishing transactions" in s.stderr(), e2e.START_TIMEOUT))
            # The idle session is told 421 and closed.
            self.assertEqual(idle.reply().code, 421)
            self.assertTrue(idle.closed())
            # The one in flight finishes with a 250; after it, the server says goodbye.
            busy.send(e2e.dot_stuff(msg)[half:])
            self.assertEqual(busy.reply().code, 250)
            busy.send(b"NOOP\r\n")
            try:
                r = busy.reply()
                self.assertEqual(r.code, 421, r)
            except ConnectionError:
                pass  # closed before the NOOP was read: also fine
        self.assertEqual(s.wait(), 0, s.stderr())
        stored = e2e.stored_messages(s.maildir, SENDER)
        self.assertEqual(stored, {"<in-flight@example.org>": [msg]})

    def test_no_new_connections_after_sigterm(self):
        s = self.server(reactors=1)
        with s.connect() as busy:
            busy.greet_ehlo()
            self.assertEqual(busy.cmd("MAIL FROM:<%s>" % SENDER).code, 250)  # keeps it running
            s.send_signal(signal.SIGTERM)
            self.assertTrue(e2e.poll(lambda: "finishing transactions" in s.stderr(), e2e.START_TIMEOUT))
            # A new client is refused, reset or told 421, but never left hanging in a
            # backlog nobody accepts from (the socket timeout would show that).
            try:
                with s.connect() as late:
                    r = late.reply()
                    self.assertEqual(r.code, 421, r)
            except socket.timeout:
                self.fail("a connection after SIGTERM was neither served nor refused")
            except (ConnectionError, OSError):
                pass  # refused or reset: the listener is closed
            # The transaction in flight may still finish; once it is over (RSET), the
            # session is idle and the server ends it with 421.
            self.assertEqual(busy.cmd("RSET").code, 250)
            self.assertEqual(busy.reply().code, 421)
            self.assertTrue(busy.closed())
        self.assertEqual(s.wait(), 0, s.stderr())

    def test_shutdown_grace_bounds_the_wait_for_a_stalled_client(self):
        # A client that stops in the middle of DATA cannot keep the server up: after
        # shutdown_grace it is cut off, nothing of its message is stored, and exit is 0.
        s = self.server(reactors=1, config={"shutdown_grace": 1})
        with s.connect() as stalled:
            stalled.greet_ehlo()
            stalled.send(b"MAIL FROM:<%s>\r\nRCPT TO:<r@example.com>\r\nDATA\r\n" % SENDER.encode())
            self.assertEqual(stalled.codes(3), [250, 250, 354])
            stalled.send(b"Message-ID: <stalled@example.org>\r\n\r\nhalf a mess")
            self.assertEqual(s.stop(signal.SIGTERM), 0, s.stderr())
            self.assertTrue(stalled.closed())
        self.assertEqual(e2e.count_files(s.maildir), 0)


if __name__ == "__main__":
    e2e.main()
