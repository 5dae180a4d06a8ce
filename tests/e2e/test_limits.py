# tests/e2e/test_limits.py — the limits of invariant 4 seen from outside, each with its
# RFC reply: recipients per message (452, RFC 5321 4.5.3.1.10), command and text line
# length (500/5xx, 4.5.3.1.4 and .6), errors per session (421 and close), the idle timeout
# (421, 4.5.3.2); plus the other handlers (discard, print) and AUTH through smtplib.
import os
import smtplib

import ringmail_e2e as e2e
from ringmail_e2e import make_message

SENDER = "limits@example.org"


class Limits(e2e.ServerTestCase):
    def test_too_many_recipients_is_452_and_the_rest_is_delivered(self):
        s = self.server(config={"max_recipients": 3})
        msg = make_message("<rcpts@example.org>", ["four recipients asked"])
        with s.connect() as c:
            c.greet_ehlo()
            c.send(b"MAIL FROM:<%s>\r\n" % SENDER.encode() +
                   b"".join(b"RCPT TO:<r%d@example.com>\r\n" % i for i in range(4)) + b"DATA\r\n")
            self.assertEqual(c.codes(6), [250, 250, 250, 250, 452, 354])
            c.send(e2e.dot_stuff(msg))
            self.assertEqual(c.reply().code, 250)
            self.assertEqual(c.cmd("QUIT").code, 221)
        self.assertEqual(e2e.stored_messages(s.maildir, SENDER), {"<rcpts@example.org>": [msg]})
        self.assert_stopped_cleanly(s)

    def test_command_line_too_long_is_500(self):
        s = self.server()
        with s.connect() as c:
            c.greet_ehlo()
            # RFC 5321 4.5.3.1.4: 512 octets with the CRLF.
            r = c.cmd("MAIL FROM:<%s@example.org>" % ("a" * 600))
            self.assertEqual(r.code, 500, r)
            self.assertEqual(c.cmd("NOOP").code, 250)  # the rest of the line was dropped
            self.assertEqual(c.cmd("QUIT").code, 221)
        self.assert_stopped_cleanly(s)

    def test_text_line_too_long_is_rejected_and_not_stored(self):
        s = self.server()
        msg = make_message("<longline@example.org>", ["b" * 1200])
        with s.connect() as c:
            c.greet_ehlo()
            c.send(b"MAIL FROM:<%s>\r\nRCPT TO:<r@example.com>\r\nDATA\r\n" % SENDER.encode())
            self.assertEqual(c.codes(3), [250, 250, 354])
            c.send(e2e.dot_stuff(msg))
            r = c.reply()
            self.assertTrue(500 <= r.code < 600, r)
            self.assertEqual(c.cmd("QUIT").code, 221)
        self.assertEqual(e2e.count_files(s.maildir), 0)
        self.assert_stopped_cleanly(s)

    def test_too_many_errors_is_421_and_close(self):
        s = self.server(config={"max_errors": 3})
        with s.connect() as c:
            c.greet_ehlo()
            c.send(b"BOGUS\r\nBOGUS\r\nBOGUS\r\nNOOP\r\n")
            self.assertEqual(c.codes(4), [500, 500, 500, 421])
            self.assertTrue(c.closed())
        self.assert_stopped_cleanly(s)

    def test_idle_timeout_is_421_and_close(self):
        s = self.server(config={"timeout_command": 1})
        with s.connect() as c:
            c.greet_ehlo()
            r = c.reply()  # waits (bounded by the socket timeout) for the server to give up
            self.assertEqual(r.code, 421, r)
            self.assertTrue(c.closed())
        self.assert_stopped_cleanly(s)

    def test_other_commands(self):
        s = self.server()
        with s.connect() as c:
            self.assertEqual(c.reply().code, 220)
            self.assertEqual(c.cmd("MAIL FROM:<%s>" % SENDER).code, 503)  # no EHLO yet
            self.assertEqual(c.cmd("HELO old.example").code, 250)
            self.assertEqual(c.cmd("VRFY someone").code, 252)
            self.assertEqual(c.cmd("HELP").code, 214)
            self.assertEqual(c.cmd("NOOP").code, 250)
            self.assertEqual(c.cmd("EXPN list").code, 502)
            self.assertEqual(c.cmd("DATA").code, 503)
            self.assertEqual(c.cmd("RSET").code, 250)
            self.assertEqual(c.cmd("QUIT").code, 221)
            self.assertTrue(c.closed())
        self.assert_stopped_cleanly(s)


class Handlers(e2e.ServerTestCase):
    def test_discard_accepts_and_stores_nothing(self):
        s = self.server(handler="discard")
        with smtplib.SMTP("127.0.0.1", s.port, timeout=e2e.IO_TIMEOUT) as c:
            for i in range(5):
                c.sendmail(SENDER, ["r@example.com"], make_message("<discard-%d@example.org>" % i, ["x"]))
        self.assertFalse(os.path.exists(s.maildir))
        self.assert_stopped_cleanly(s)

    def test_print_shows_the_mail(self):
        s = self.server(handler="print")
        msg = make_message("<print@example.org>", ["printed body"], subject="Printed subject")
        with smtplib.SMTP("127.0.0.1", s.port, timeout=e2e.IO_TIMEOUT) as c:
            c.sendmail(SENDER, ["r@example.com"], msg)
        self.assert_stopped_cleanly(s)  # flushes stdout
        out = s.stdout()
        self.assertIn(b"Printed subject", out)
        self.assertIn(SENDER.encode(), out)

    def test_print_escapes_what_the_client_sent(self):
        # A terminal escape (ESC [ 2 J clears the screen), a C1 control (U+009B, CSI on some
        # terminals) and lines that forge the block's separators: printed escaped, one real
        # separator per mail. (A bare CR never gets this far: DATA refuses it.)
        s = self.server(handler="print")
        body = ["before \x1b[2J after", "c1 \u009b[31m red", "--- end", "--- mail from 6.6.6.6"]
        msg = make_message("<esc@example.org>", body, subject="Esc \x1b]0;title\x07 subject")
        with smtplib.SMTP("127.0.0.1", s.port, timeout=e2e.IO_TIMEOUT) as c:
            c.sendmail(SENDER, ["r@example.com"], msg)
        self.assert_stopped_cleanly(s)
        out = s.stdout()
        for raw in (b"\x1b", b"\x07", b"\r", "\u009b".encode("utf-8")):
            self.assertNotIn(raw, out)
        self.assertIn(b"before \\x1b[2J after", out)
        self.assertIn(b"c1 \\u009b[31m red", out)
        self.assertEqual(out.count(b"\n--- end\n"), 1)
        self.assertEqual(out.count(b"--- mail from"), 1)

    def test_auth_login_marks_the_trace_field(self):
        # No on_auth handler: every login is accepted; Received says ESMTPA (RFC 3848).
        s = self.server()
        msg = make_message("<auth@example.org>", ["authenticated"])
        with smtplib.SMTP("127.0.0.1", s.port, timeout=e2e.IO_TIMEOUT) as c:
            c.ehlo()
            self.assertTrue(c.has_extn("auth"))
            c.login("user@example.org", "secret")
            c.sendmail(SENDER, ["r@example.com"], msg)
        files = e2e.maildir_files(s.maildir)
        self.assertEqual(len(files), 1)
        data = next(iter(files.values()))
        self.assertEqual(e2e.split_trace(data, SENDER), msg)
        self.assertIn(b"with ESMTPA", data[:data.find(b"From: ")])
        self.assert_stopped_cleanly(s)


if __name__ == "__main__":
    e2e.main()
