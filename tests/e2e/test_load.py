# tests/e2e/test_load.py — 200 concurrent clients (threads, each its own connection, all
# connected at once) deliver through smtplib and raw pipelined sockets; every message is
# acknowledged and stored exactly once, byte for byte (issue 2, Tests). Heavy: not run in
# parallel with other tests.
import smtplib
import threading

import ringmail_e2e as e2e
from ringmail_e2e import make_message

CLIENTS = 200
JOIN_TIMEOUT = 240.0
SENDER = "load@example.org"


class Concurrent(e2e.ServerTestCase):
    def run_clients(self, n, body):
        """Starts `n` threads running body(i, barrier) and joins them (bounded); returns
        the exceptions they raised, by client."""
        barrier = threading.Barrier(n, timeout=JOIN_TIMEOUT / 2)
        errors = {}
        lock = threading.Lock()

        def run(i):
            try:
                body(i, barrier)
            except BaseException as e:  # reported below, with the client number
                barrier.abort()
                with lock:
                    errors[i] = e

        threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(JOIN_TIMEOUT)
        self.assertFalse([t for t in threads if t.is_alive()], "clients still running")
        return errors

    def check_stored(self, server, sent):
        stored = e2e.stored_messages(server.maildir, SENDER)
        missing = sorted(set(sent) - set(stored))
        self.assertEqual(missing, [], "%d of %d messages missing" % (len(missing), len(sent)))
        self.assertEqual(sorted(stored), sorted(sent))
        for msgid, msg in sent.items():
            self.assertEqual(stored[msgid], [msg], msgid)

    def test_200_clients_with_smtplib(self):
        s = self.server(reactors=2)
        sent = {}
        for i in range(CLIENTS):
            msgid = "<concurrent-%d@example.org>" % i
            # Sizes from a few hundred bytes to ~40 KiB, more than one receive buffer.
            sent[msgid] = make_message(msgid, ["client %d" % i, ".", "p" * 80] * (1 + (i * 97) % 500))

        def client(i, barrier):
            msgid = "<concurrent-%d@example.org>" % i
            with smtplib.SMTP("127.0.0.1", s.port, timeout=e2e.IO_TIMEOUT * 4) as c:
                c.ehlo("client%d.example" % i)
                barrier.wait()  # all 200 connected before any delivers
                c.sendmail(SENDER, ["rcpt%d@example.com" % i], sent[msgid])

        errors = self.run_clients(CLIENTS, client)
        self.assertEqual(errors, {})
        self.check_stored(s, sent)
        self.assert_stopped_cleanly(s)

    def test_200_clients_pipelining_raw(self):
        # Each client pipelines three transactions in one write.
        s = self.server(reactors=2)
        per_client = 3
        sent = {}
        for i in range(CLIENTS):
            for j in range(per_client):
                msgid = "<raw-%d-%d@example.org>" % (i, j)
                sent[msgid] = make_message(msgid, ["client %d message %d" % (i, j), ".."] * (1 + (i + j) % 50))

        def client(i, barrier):
            with e2e.RawClient(s.port, e2e.IO_TIMEOUT * 4) as c:
                c.greet_ehlo("raw%d.example" % i)
                wire = b""
                for j in range(per_client):
                    msg = sent["<raw-%d-%d@example.org>" % (i, j)]
                    wire += b"MAIL FROM:<%s>\r\nRCPT TO:<r@example.com>\r\nDATA\r\n" % SENDER.encode()
                    wire += e2e.dot_stuff(msg)
                barrier.wait()
                c.send(wire + b"QUIT\r\n")
                codes = c.codes(4 * per_client + 1)
                if codes != [250, 250, 354, 250] * per_client + [221]:
                    raise AssertionError("client %d: %r" % (i, codes))

        errors = self.run_clients(CLIENTS, client)
        self.assertEqual(errors, {})
        self.check_stored(s, sent)
        self.assert_stopped_cleanly(s)


if __name__ == "__main__":
    e2e.main()
