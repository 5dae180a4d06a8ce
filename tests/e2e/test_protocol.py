# tests/e2e/test_protocol.py — raw-socket SMTP against the real server: pipelining (RFC
# 2920: many transactions in one write), BDAT (RFC 3030, including BDAT 0 LAST), the size
# limit (RFC 1870: 552, nothing stored), bare LF/CR rejection and smuggling attempts
# (invariant 5: end of data is only CRLF.CRLF). Replies are checked one by one and the
# Maildir byte for byte.
import smtplib
import threading

import ringmail_e2e as e2e
from ringmail_e2e import CRLF, dot_stuff, make_message

SENDER = "proto@example.org"


def transaction(msg, rcpts=("rcpt@example.com",), sender=SENDER):
    wire = b"MAIL FROM:<" + sender.encode() + b">" + CRLF
    for r in rcpts:
        wire += b"RCPT TO:<" + r.encode() + b">" + CRLF
    return wire + b"DATA" + CRLF + dot_stuff(msg)


def bdat(data, last=False):
    return b"BDAT %d%s\r\n" % (len(data), b" LAST" if last else b"") + data


class ProtoTestCase(e2e.ServerTestCase):
    def assert_stored(self, server, sent, sender=SENDER):
        stored = e2e.stored_messages(server.maildir, sender)
        self.assertEqual(sorted(stored), sorted(sent))
        for msgid, msg in sent.items():
            self.assertEqual(stored[msgid], [msg], msgid)

    def send_in_background(self, client, data):
        # A writer thread, so that a server that answers while we still write cannot
        # deadlock us with full socket buffers. Joined (bounded) at cleanup.
        t = threading.Thread(target=client.send, args=(data,), daemon=True)
        t.start()
        self.addCleanup(t.join, e2e.IO_TIMEOUT)
        return t


class Pipelining(ProtoTestCase):
    def test_many_transactions_in_one_write(self):
        s = self.server()
        sent = {}
        wire = b""
        n = 60
        for i in range(n):
            msgid = "<pipe-%d@example.org>" % i
            sent[msgid] = make_message(msgid, ["transaction %d" % i, ".dot", "x" * (i * 37 % 900)] * (1 + i % 5))
            wire += transaction(sent[msgid], ("a@example.com", "b@example.net"))
        wire += b"RSET\r\nNOOP\r\nQUIT\r\n"
        with s.connect() as c:
            self.assertIn("PIPELINING", c.greet_ehlo())
            c.send(wire)
            self.assertEqual(c.codes(5 * n + 3), [250, 250, 250, 354, 250] * n + [250, 250, 221])
            self.assertTrue(c.closed())
        self.assert_stored(s, sent)
        self.assert_stopped_cleanly(s)

    def test_pipeline_of_a_megabyte_with_errors_inside(self):
        # More than the reactor holds while the Maildir decides (backpressure), with
        # rejected commands in the group: each gets its own reply, in order. (Fewer
        # errors than max_errors, 20, after which the session ends with 421.)
        s = self.server()
        sent = {}
        wire = b""
        expected = []
        n = 150
        for i in range(n):
            msgid = "<bigpipe-%d@example.org>" % i
            sent[msgid] = make_message(msgid, ["line %d of %d" % (j, i) for j in range(500)])
            if i % 30 == 3:  # a bad recipient, then a good one
                wire += b"MAIL FROM:<" + SENDER.encode() + b">\r\nRCPT TO:<no good>\r\n"
                wire += b"RCPT TO:<rcpt@example.com>\r\nDATA\r\n" + dot_stuff(sent[msgid])
                expected += [250, 501, 250, 354, 250]
            elif i % 30 == 17:  # RCPT without MAIL, then the transaction
                wire += b"RCPT TO:<rcpt@example.com>\r\n" + transaction(sent[msgid])
                expected += [503, 250, 250, 354, 250]
            else:
                wire += transaction(sent[msgid])
                expected += [250, 250, 354, 250]
        wire += b"QUIT\r\n"
        expected.append(221)
        self.assertGreater(len(wire), 1 << 20)
        with s.connect() as c:
            c.greet_ehlo()
            self.send_in_background(c, wire)
            self.assertEqual(c.codes(len(expected)), expected)
            self.assertTrue(c.closed())
        self.assert_stored(s, sent)
        self.assert_stopped_cleanly(s)

    def test_one_write_per_byte(self):
        # The other extreme: a transaction trickled one byte per send.
        s = self.server()
        msg = make_message("<trickle@example.org>", [".", "..x", "end"])
        with s.connect() as c:
            c.greet_ehlo()
            for b in transaction(msg) + b"QUIT\r\n":
                c.send(bytes([b]))
            self.assertEqual(c.codes(5), [250, 250, 354, 250, 221])
        self.assert_stored(s, {"<trickle@example.org>": msg})
        self.assert_stopped_cleanly(s)


class Bdat(ProtoTestCase):
    def test_single_chunk_last(self):
        s = self.server()
        msg = make_message("<bdat-1@example.org>", ["one chunk", ".not stuffed"])
        with s.connect() as c:
            self.assertIn("CHUNKING", c.greet_ehlo())
            self.assertEqual(c.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
            self.assertEqual(c.cmd("RCPT TO:<rcpt@example.com>").code, 250)
            c.send(bdat(msg, last=True))
            self.assertEqual(c.reply().code, 250)
            self.assertEqual(c.cmd("QUIT").code, 221)
        self.assert_stored(s, {"<bdat-1@example.org>": msg})
        self.assert_stopped_cleanly(s)

    def test_many_chunks_then_bdat_0_last(self):
        # Chunk edges cut CRLFs in half; the data holds what DATA would treat specially
        # (CRLF.CRLF, leading dots, a smuggled MAIL): BDAT data is taken as it is.
        s = self.server()
        msg = make_message("<bdat-2@example.org>",
                           [".", "..", "text", ".", "MAIL FROM:<evil@example.org>",
                            "RCPT TO:<victim@example.com>", "DATA", "smuggled", "."] + ["y" * 200] * 50)
        cuts = [1, 2, 7, 64, 100, 101, 999, 1000, 4096, len(msg)]
        chunks = [msg[a:b] for a, b in zip([0] + cuts, cuts) if b > a]
        self.assertEqual(b"".join(chunks), msg)
        with s.connect() as c:
            c.greet_ehlo()
            self.assertEqual(c.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
            self.assertEqual(c.cmd("RCPT TO:<rcpt@example.com>").code, 250)
            for ch in chunks:
                c.send(bdat(ch))
                self.assertEqual(c.reply().code, 250)
            c.send(b"BDAT 0 LAST\r\n")
            self.assertEqual(c.reply().code, 250)
            self.assertEqual(c.cmd("QUIT").code, 221)
        self.assert_stored(s, {"<bdat-2@example.org>": msg})
        self.assert_stopped_cleanly(s)

    def test_pipelined_bdat_and_data_transactions(self):
        s = self.server()
        sent = {}
        wire = b""
        expected = []
        for i in range(20):
            msgid = "<bdat-pipe-%d@example.org>" % i
            msg = sent[msgid] = make_message(msgid, ["message %d" % i, ".", "\x7e" * i] * 20)
            if i % 3 == 0:
                wire += transaction(msg)
                expected += [250, 250, 354, 250]
            elif i % 3 == 1:
                half = len(msg) // 2
                wire += b"MAIL FROM:<%s>\r\nRCPT TO:<r@example.com>\r\n" % SENDER.encode()
                wire += bdat(msg[:half]) + bdat(msg[half:]) + b"BDAT 0 LAST\r\n"
                expected += [250, 250, 250, 250, 250]
            else:
                wire += b"MAIL FROM:<%s>\r\nRCPT TO:<r@example.com>\r\n" % SENDER.encode()
                wire += bdat(msg, last=True)
                expected += [250, 250, 250]
        wire += b"QUIT\r\n"
        expected.append(221)
        with s.connect() as c:
            c.greet_ehlo()
            c.send(wire)
            self.assertEqual(c.codes(len(expected)), expected)
        self.assert_stored(s, sent)
        self.assert_stopped_cleanly(s)

    def test_rejected_bdat_still_consumes_its_chunk(self):
        # RFC 3030 2: the chunk of a rejected BDAT is read and dropped; commands inside
        # it must never run.
        s = self.server()
        inner = b"MAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.com>\r\nBDAT 6 LAST\r\nevil\r\n"
        with s.connect() as c:
            c.greet_ehlo()
            c.send(bdat(inner, last=True) + b"NOOP\r\n")  # no transaction at all
            r = c.reply()
            self.assertTrue(500 <= r.code < 600, r)
            self.assertEqual(c.reply().code, 250)
            self.assertEqual(c.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
            c.send(bdat(inner, last=True) + b"NOOP\r\n")  # MAIL but no recipient
            r = c.reply()
            self.assertTrue(500 <= r.code < 600, r)
            self.assertEqual(c.reply().code, 250)
            self.assertEqual(c.cmd("QUIT").code, 221)
        self.assertEqual(e2e.count_files(s.maildir), 0)
        self.assert_stopped_cleanly(s)

    def test_bdat_after_data_and_data_after_bdat(self):
        # RFC 3030 2: DATA after BDAT in one transaction is a sequence error (503).
        s = self.server()
        msg = make_message("<bdat-mix@example.org>", ["mixed"])
        with s.connect() as c:
            c.greet_ehlo()
            self.assertEqual(c.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
            self.assertEqual(c.cmd("RCPT TO:<rcpt@example.com>").code, 250)
            c.send(bdat(msg[:10]))
            self.assertEqual(c.reply().code, 250)
            self.assertEqual(c.cmd("DATA").code, 503)
            c.send(bdat(msg[10:], last=True))
            self.assertEqual(c.reply().code, 250)
            self.assertEqual(c.cmd("QUIT").code, 221)
        self.assert_stored(s, {"<bdat-mix@example.org>": msg})
        self.assert_stopped_cleanly(s)


class SizeLimit(ProtoTestCase):
    LIMIT = 64 * 1024

    def limited_server(self):
        return self.server(config={"max_message_size": "64k"})

    def test_size_is_advertised_and_declared_size_too_big_is_552(self):
        s = self.limited_server()
        with s.connect() as c:
            self.assertIn("SIZE %d" % self.LIMIT, c.greet_ehlo())
            r = c.cmd("MAIL FROM:<%s> SIZE=%d" % (SENDER, self.LIMIT * 10))
            self.assertEqual(r.code, 552, r)
            self.assertEqual(c.cmd("RCPT TO:<rcpt@example.com>").code, 503)
            self.assertEqual(c.cmd("MAIL FROM:<%s> SIZE=1000" % SENDER).code, 250)
            self.assertEqual(c.cmd("QUIT").code, 221)
        self.assertEqual(e2e.count_files(s.maildir), 0)
        self.assert_stopped_cleanly(s)

    def test_data_too_big_is_552_and_nothing_stored(self):
        s = self.limited_server()
        big = make_message("<big@example.org>", ["z" * 998] * (2 * self.LIMIT // 1000))
        small = make_message("<small@example.org>", ["fits"] * 100)
        with s.connect() as c:
            c.greet_ehlo()
            # The declared size lies; the real one counts.
            self.assertEqual(c.cmd("MAIL FROM:<%s> SIZE=1000" % SENDER).code, 250)
            self.assertEqual(c.cmd("RCPT TO:<rcpt@example.com>").code, 250)
            self.assertEqual(c.cmd("DATA").code, 354)
            self.send_in_background(c, dot_stuff(big))
            r = c.reply()
            self.assertEqual(r.code, 552, r)
            # The session goes on: the next transaction is stored.
            c.send(transaction(small))
            self.assertEqual(c.codes(4), [250, 250, 354, 250])
            self.assertEqual(c.cmd("QUIT").code, 221)
        self.assert_stored(s, {"<small@example.org>": small})
        self.assertEqual(e2e.count_files(s.maildir, "tmp"), 0)
        self.assert_stopped_cleanly(s)

    def test_bdat_too_big_is_552_and_nothing_stored(self):
        s = self.limited_server()
        chunk = b"w" * 998 + CRLF
        first = chunk * (self.LIMIT // len(chunk) // 2)  # half the limit
        with s.connect() as c:
            c.greet_ehlo()
            self.assertEqual(c.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
            self.assertEqual(c.cmd("RCPT TO:<rcpt@example.com>").code, 250)
            c.send(bdat(first))
            self.assertEqual(c.reply().code, 250)
            c.send(bdat(first * 3, last=True))
            r = c.reply()
            self.assertEqual(r.code, 552, r)
            self.assertEqual(c.cmd("NOOP").code, 250)
            self.assertEqual(c.cmd("QUIT").code, 221)
        self.assertEqual(e2e.count_files(s.maildir), 0)
        self.assert_stopped_cleanly(s)

    def test_smtplib_sees_552(self):
        s = self.limited_server()
        big = make_message("<big-smtplib@example.org>", ["q" * 500] * 300)
        fits = make_message("<fits-smtplib@example.org>", ["q" * 500] * 100)
        with smtplib.SMTP("127.0.0.1", s.port, timeout=e2e.IO_TIMEOUT) as c:
            with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
                c.sendmail(SENDER, ["rcpt@example.com"], big)  # smtplib declares SIZE=
            self.assertEqual(cm.exception.smtp_code, 552)
            c.sendmail(SENDER, ["rcpt@example.com"], fits)
        self.assert_stored(s, {"<fits-smtplib@example.org>": fits})
        self.assert_stopped_cleanly(s)


class BareLineEnds(ProtoTestCase):
    def data_exchange(self, server, body):
        """MAIL, RCPT, DATA, then `body` (which must end with the only CRLF.CRLF) and
        QUIT in one write; returns the codes that follow the 354."""
        self.assertEqual(body.count(b"\r\n.\r\n"), 1)
        self.assertTrue(body.endswith(b"\r\n.\r\n"))
        with server.connect() as c:
            c.greet_ehlo()
            self.assertEqual(c.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
            self.assertEqual(c.cmd("RCPT TO:<rcpt@example.com>").code, 250)
            self.assertEqual(c.cmd("DATA").code, 354)
            c.send(body + b"QUIT\r\n")
            codes = []
            for _ in range(20):  # bounded: a correct server sends two replies
                r = c.reply()
                codes.append(r.code)
                if r.code == 221:
                    break
            return codes

    def assert_rejected(self, server, body):
        codes = self.data_exchange(server, body)
        self.assertEqual(len(codes), 2, codes)
        self.assertTrue(500 <= codes[0] < 600, codes)
        self.assertEqual(codes[1], 221)

    def test_bare_lf_and_bare_cr_are_rejected(self):
        s = self.server()
        head = b"From: a@example.org\r\nMessage-ID: <bare@example.org>\r\n\r\n"
        bodies = [
            head + b"line\nmore\r\n.\r\n",            # bare LF in the body
            b"From: a@example.org\nSubject: x\r\n\r\nbody\r\n.\r\n",  # in the header
            head + b"line\rmore\r\n.\r\n",            # bare CR
            head + b"text\n\r\n.\r\n",                # LF just before the end
            head + b"text\r\r\n.\r\n",                # CR just before the end
            head + b"\n\r\n.\r\n",                    # an empty bare line
            head + b".\n\r\n.\r\n",                   # a bare-LF "dot line"
        ]
        for body in bodies:
            with self.subTest(body=body):
                self.assert_rejected(s, body)
        self.assertEqual(e2e.count_files(s.maildir), 0)
        self.assertEqual(e2e.count_files(s.maildir, "tmp"), 0)
        self.assert_stopped_cleanly(s)

    def test_smuggling_attempts_start_no_second_transaction(self):
        # SMTP smuggling: an end-of-data that some receiver takes for the real one,
        # followed by a second transaction. Only CRLF.CRLF ends data, and data with a
        # bare LF or CR is rejected, so the whole thing is one rejected message.
        s = self.server()
        head = b"From: a@example.org\r\nMessage-ID: <outer@example.org>\r\n\r\nhello"
        smuggled = [b"MAIL FROM:<evil@example.org>", b"RCPT TO:<victim@example.com>", b"DATA",
                    b"From: evil@example.org", b"Message-ID: <smuggled@example.org>", b"", b"evil"]

        def attempt(end, eol, final=b"\r\n.\r\n"):
            return head + end + eol.join(smuggled) + final

        bodies = [
            attempt(b"\n.\n", b"\n", b"\n.\n\r\n.\r\n"),
            attempt(b"\n.\r\n", b"\r\n"),
            attempt(b"\r\n.\n", b"\r\n"),
            attempt(b"\r\n.\n", b"\n", b"\n.\n\r\n.\r\n"),
            attempt(b"\r.\r\n", b"\r\n"),
            attempt(b"\r\n.\r", b"\r\n"),
            attempt(b"\r.\r", b"\r", b"\r.\r\r\n.\r\n"),
            attempt(b"\n..\n", b"\n", b"\n.\r\n.\r\n"),
            attempt(b"\r\n\x00.\r\n", b"\r\n"),
        ]
        for body in bodies:
            with self.subTest(body=body[len(head):]):
                codes = self.data_exchange(s, body)
                if b"\x00" not in body:
                    self.assertEqual(len(codes), 2, codes)
                    self.assertTrue(500 <= codes[0] < 600, codes)
                else:
                    # A NUL is not a line end: one message, accepted or rejected, but
                    # never a second transaction.
                    self.assertEqual(len(codes), 2, codes)
                self.assertEqual(codes[-1], 221)
        files = e2e.maildir_files(s.maildir)
        for name, data in files.items():
            self.assertTrue(data.startswith(b"Return-Path: <%s>\r\n" % SENDER.encode()),
                            "smuggled message stored: %r" % data[:300])
        self.assertLessEqual(len(files), 1)  # only the NUL variant may be accepted
        self.assert_stopped_cleanly(s)


if __name__ == "__main__":
    e2e.main()
