# tests/e2e/test_delivery.py — real clients nobody here wrote (Python's smtplib, swaks,
# curl) deliver to `ringmail serve --handler maildir:DIR`; each stored file must be the two
# trace fields followed by the message exactly as sent, after dot-unstuffing (RFC 5321
# 4.5.2), CRLF line ends kept.
import os
import shutil
import smtplib
import subprocess

import ringmail_e2e as e2e
from ringmail_e2e import make_message

CLIENT_TIMEOUT = 60

# Lines that dot-stuffing must carry through unchanged: a lone dot, leading dots,
# whitespace around dots, 8-bit bytes, an empty line and a line of 998 octets
# (RFC 5321 4.5.3.1.6: 1000 with the CRLF).
TRICKY_LINES = [
    b".", b"..", b"...", b".leading dot", b"..two dots", b". ", b".\t", b" .", b"\t.",
    b"", b"trailing space ", b"caf\xc3\xa9 8-bit", b"x" * 998, b"end.", b".",
]


def sent_and_stored(test, maildir, sender, sent):
    """Asserts that maildir/new holds exactly the messages of `sent` ({msgid: bytes})."""
    stored = e2e.stored_messages(maildir, sender)
    test.assertEqual(sorted(stored), sorted(sent))
    for msgid, msg in sent.items():
        test.assertEqual(len(stored[msgid]), 1, msgid)
        test.assertEqual(stored[msgid][0], msg, msgid)


class Smtplib(e2e.ServerTestCase):
    def test_delivers_byte_for_byte(self):
        s = self.server()
        msg = make_message("<smtplib-1@example.org>", [b"Hello from smtplib."] + TRICKY_LINES)
        with smtplib.SMTP("127.0.0.1", s.port, timeout=CLIENT_TIMEOUT) as c:
            code, caps = c.ehlo("smtplib.example")
            self.assertEqual(code, 250)
            for ext in ("pipelining", "size", "8bitmime", "chunking", "enhancedstatuscodes"):
                self.assertTrue(c.has_extn(ext), ext)
            refused = c.sendmail("sender@example.org", ["rcpt@example.com", "other@example.net"], msg)
            self.assertEqual(refused, {})
        sent_and_stored(self, s.maildir, "sender@example.org", {"<smtplib-1@example.org>": msg})
        self.assertEqual(e2e.count_files(s.maildir, "tmp"), 0)
        self.assert_stopped_cleanly(s)

    def test_envelope_recipients_are_kept_in_the_file(self):
        # The header names one recipient; the envelope has three, one a Bcc. Each gets a
        # Delivered-To field, in envelope order, as Postfix's local delivery writes them.
        s = self.server()
        msg = make_message("<bcc@example.org>", [b"who got this?"])
        rcpts = ["rcpt@example.com", "hidden@example.net", "third@example.org"]
        with smtplib.SMTP("127.0.0.1", s.port, timeout=CLIENT_TIMEOUT) as c:
            self.assertEqual(c.sendmail("sender@example.org", rcpts, msg), {})
        files = e2e.maildir_files(s.maildir)
        self.assertEqual(len(files), 1)
        data = next(iter(files.values()))
        self.assertEqual(e2e.delivered_to(data), rcpts)
        self.assertEqual(e2e.split_trace(data, "sender@example.org"), msg)
        self.assert_stopped_cleanly(s)

    def test_removed_or_moved_maildir_is_made_again(self):
        # An operator moves the Maildir away, or a cleanup removes it: the next message is
        # delivered into a new one at the configured path (it answered 451 until restart).
        import shutil
        s = self.server()
        first = make_message("<first@example.org>", [b"one"])
        second = make_message("<second@example.org>", [b"two"])
        third = make_message("<third@example.org>", [b"three"])
        with smtplib.SMTP("127.0.0.1", s.port, timeout=CLIENT_TIMEOUT) as c:
            self.assertEqual(c.sendmail("sender@example.org", ["rcpt@example.com"], first), {})
            moved = s.maildir + ".old"
            os.rename(s.maildir, moved)
            self.assertEqual(c.sendmail("sender@example.org", ["rcpt@example.com"], second), {})
            shutil.rmtree(s.maildir)
            self.assertEqual(c.sendmail("sender@example.org", ["rcpt@example.com"], third), {})
        self.assertEqual(sorted(e2e.stored_messages(moved, "sender@example.org")), ["<first@example.org>"])
        self.assertEqual(sorted(e2e.stored_messages(s.maildir, "sender@example.org")), ["<third@example.org>"])
        # Log lines reach a log file within base/log's kLingerMs, not with the reply.
        self.assertTrue(e2e.poll(lambda: "made again" in s.stderr(), e2e.IO_TIMEOUT), s.stderr())
        self.assert_stopped_cleanly(s)

    def test_several_messages_on_one_connection_and_null_sender(self):
        s = self.server()
        sent = {}
        with smtplib.SMTP("127.0.0.1", s.port, timeout=CLIENT_TIMEOUT) as c:
            for i in range(10):
                msgid = "<smtplib-multi-%d@example.org>" % i
                sent[msgid] = make_message(msgid, ["message %d" % i, "." * (i + 1)])
                c.sendmail("", ["rcpt@example.com"], sent[msgid])  # RFC 5321 4.5.5: null path
            self.assertEqual(c.noop()[0], 250)
            self.assertEqual(c.rset()[0], 250)
        sent_and_stored(self, s.maildir, "", sent)
        self.assert_stopped_cleanly(s)

    def test_send_message_with_email_package(self):
        from email.message import EmailMessage
        from email import policy
        s = self.server()
        m = EmailMessage(policy=policy.SMTP)
        m["From"] = "sender@example.org"
        m["To"] = "rcpt@example.com"
        m["Subject"] = "email package"
        m["Message-ID"] = "<email-pkg@example.org>"
        m.set_content("Line one\n.\n..\nLine four\n")
        m.add_attachment(bytes(range(256)) * 8, maintype="application", subtype="octet-stream",
                         filename="blob.bin")
        wire = m.as_bytes(policy=policy.SMTP)
        with smtplib.SMTP("127.0.0.1", s.port, timeout=CLIENT_TIMEOUT) as c:
            c.send_message(m)
        sent_and_stored(self, s.maildir, "sender@example.org", {"<email-pkg@example.org>": wire})
        self.assert_stopped_cleanly(s)


class Swaks(e2e.ServerTestCase):
    def setUp(self):
        super().setUp()
        self.swaks = shutil.which("swaks")
        if not self.swaks:
            self.skipTest("swaks is not installed")

    def run_swaks(self, port, data_path, *extra):
        p = subprocess.run([self.swaks, "--server", "127.0.0.1:%d" % port, "--helo", "swaks.example",
                            "--from", "swaks@example.org", "--to", "rcpt@example.com",
                            "--data", "@" + data_path, *extra],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=CLIENT_TIMEOUT)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, out + p.stderr.decode("utf-8", "replace"))
        self.assertIn("<-  250 ", out)
        return out

    def swaks_data(self, name, msg):
        # swaks dot-stuffs the file; a file ending in CRLF.CRLF is sent as it is, so what
        # arrives is exactly `msg` (without it swaks adds an empty line of its own).
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(msg + b"." + e2e.CRLF)
        return path

    def test_delivers_byte_for_byte(self):
        s = self.server()
        sent = {}
        for i, extra in enumerate(([], ["--pipeline"], ["--protocol", "ESMTP"])):
            msgid = "<swaks-%d@example.org>" % i
            sent[msgid] = make_message(msgid, [b"Hello from swaks."] + TRICKY_LINES)
            self.run_swaks(s.port, self.swaks_data("m%d.eml" % i, sent[msgid]), *extra)
        sent_and_stored(self, s.maildir, "swaks@example.org", sent)
        self.assert_stopped_cleanly(s)


class Curl(e2e.ServerTestCase):
    def setUp(self):
        super().setUp()
        self.curl = shutil.which("curl")
        if not self.curl:
            self.skipTest("curl is not installed")

    def run_curl(self, port, path, *rcpts):
        args = [self.curl, "--silent", "--show-error", "--max-time", str(CLIENT_TIMEOUT),
                "smtp://127.0.0.1:%d/curl.example" % port, "--mail-from", "curl@example.org"]
        for r in rcpts:
            args += ["--mail-rcpt", r]
        p = subprocess.run(args + ["--upload-file", path], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=CLIENT_TIMEOUT + 10)
        return p

    def test_delivers_byte_for_byte(self):
        s = self.server()
        sent = {}
        for i, rcpts in enumerate((["rcpt@example.com"], ["a@example.com", "b@example.net", "c@example.org"])):
            msgid = "<curl-%d@example.org>" % i
            sent[msgid] = make_message(msgid, [b"Hello from curl."] + TRICKY_LINES)
            path = os.path.join(self.tmp, "c%d.eml" % i)
            with open(path, "wb") as f:
                f.write(sent[msgid])  # curl dot-stuffs and ends the data itself
            p = self.run_curl(s.port, path, *rcpts)
            self.assertEqual(p.returncode, 0, p.stderr)
        sent_and_stored(self, s.maildir, "curl@example.org", sent)
        self.assert_stopped_cleanly(s)

    def test_rejected_message_is_an_error_for_curl(self):
        # A message over the size limit: curl must see the 552 and exit non-zero.
        s = self.server(config={"max_message_size": "16k"})
        path = os.path.join(self.tmp, "big.eml")
        with open(path, "wb") as f:
            f.write(make_message("<curl-big@example.org>", [b"y" * 900] * 40))
        p = self.run_curl(s.port, path, "rcpt@example.com")
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(e2e.count_files(s.maildir), 0)
        self.assert_stopped_cleanly(s)


class DotStuffing(e2e.ServerTestCase):
    def test_raw_dot_stuffing_is_undone(self):
        s = self.server()
        msgs = {
            "<dots-1@example.org>": make_message("<dots-1@example.org>", TRICKY_LINES),
            # A body whose first and last lines are dots.
            "<dots-2@example.org>": make_message("<dots-2@example.org>", [b".", b"middle", b"."]),
            # ".\r\n" ending a stuffed line must not end the data early.
            "<dots-3@example.org>": make_message("<dots-3@example.org>", [b"a", b".", b"", b"."]),
        }
        with s.connect() as c:
            c.greet_ehlo()
            for msg in msgs.values():
                self.assertEqual(c.cmd("MAIL FROM:<dots@example.org>").code, 250)
                self.assertEqual(c.cmd("RCPT TO:<rcpt@example.com>").code, 250)
                self.assertEqual(c.cmd("DATA").code, 354)
                c.send(e2e.dot_stuff(msg))
                self.assertEqual(c.reply().code, 250)
            self.assertEqual(c.cmd("QUIT").code, 221)
        sent_and_stored(self, s.maildir, "dots@example.org", msgs)
        self.assert_stopped_cleanly(s)

    def test_empty_message(self):
        # DATA then the terminator at once: an empty message, stored as the trace fields.
        s = self.server()
        with s.connect() as c:
            c.greet_ehlo()
            self.assertEqual(c.cmd("MAIL FROM:<empty@example.org>").code, 250)
            self.assertEqual(c.cmd("RCPT TO:<rcpt@example.com>").code, 250)
            self.assertEqual(c.cmd("DATA").code, 354)
            self.assertEqual(c.cmd(".").code, 250)
        files = e2e.maildir_files(s.maildir)
        self.assertEqual(len(files), 1)
        self.assertEqual(e2e.split_trace(next(iter(files.values())), "empty@example.org"), b"")
        self.assert_stopped_cleanly(s)


if __name__ == "__main__":
    e2e.main()
