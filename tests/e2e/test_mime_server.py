# tests/e2e/test_mime_server.py — the server splits each message into `message` and
# `attachments` for on_mail (seen through the print handler), `mime = off` (or false) turns
# that off, `mime = auto` (the default) parses only for handlers that read the split, and the
# parse / extract / compose commands work on files.
import email.message
import email.policy
import hashlib
import json
import os
import smtplib
import subprocess

import ringmail_e2e as e2e

PNG = bytes(range(256)) * 3


def multipart_message():
    m = email.message.EmailMessage()
    m["From"] = '"Zoë" <zoe@example.org>'
    m["To"] = "bob@example.com"
    m["Subject"] = "Grüße aus Köln"
    m["Message-ID"] = "<mime-1@example.org>"
    m.set_content("plain version\n")
    m.add_alternative("<p>Hallo <b>Welt</b> caf\u00e9</p>\n", subtype="html")
    m.add_attachment(PNG, maintype="image", subtype="png", filename="bild.png")
    m.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="zahlen.csv")
    return m


class MimeServer(e2e.ServerTestCase):
    def deliver_and_print(self, config=None):
        s = self.server(handler="print", config=config or {})
        with smtplib.SMTP("127.0.0.1", s.port, timeout=e2e.IO_TIMEOUT) as c:
            c.send_message(multipart_message(), "zoe@example.org", ["bob@example.com"])
        self.assert_stopped_cleanly(s)
        return s.stdout().decode("utf-8", "replace")

    def test_on_mail_gets_decoded_subject_html_message_and_attachments(self):
        out = self.deliver_and_print()
        self.assertIn("subject: Grüße aus Köln", out)
        self.assertIn("from: Zoë <zoe@example.org>", out)
        self.assertIn("[bild.png] %d" % len(PNG), out)
        self.assertIn("[zahlen.csv] 8", out)
        msg = out.split("\nmessage:\n", 1)[1].split("\n--- original\n", 1)[0]
        self.assertEqual(msg.replace("\r\n", "\n").strip(), "<p>Hallo <b>Welt</b> café</p>")

    def test_mime_off_leaves_message_and_attachments_empty(self):
        out = self.deliver_and_print({"mime": "false"})
        self.assertIn("attachments:\nmessage:\n\n--- original", out)
        self.assertIn("subject: =?utf-8?", out.lower())  # raw header value

    def test_mime_off_spelled_off(self):
        out = self.deliver_and_print({"mime": "off"})
        self.assertIn("attachments:\nmessage:\n\n--- original", out)

    def test_auto_splits_only_for_handlers_that_read_it(self):
        # print reads the split (the test above shows it filled with the default, auto);
        # discard, maildir and the queue do not, so auto never runs the parser for them.
        for handler, config, split in (("print", {}, "on"), ("discard", {}, "off"),
                                       ("maildir:" + os.path.join(self.tmp, "md"), {}, "off"),
                                       ("discard", {"mime": "on"}, "on"), ("print", {"mime": "off"}, "off")):
            s = self.server(handler=handler, config=config)
            with smtplib.SMTP("127.0.0.1", s.port, timeout=e2e.IO_TIMEOUT) as c:
                c.send_message(multipart_message(), "zoe@example.org", ["bob@example.com"])
            mode = config.get("mime", "auto")
            self.assertIn("ringmail: MIME split %s (mime = %s)" % (split, mode), s.stderr(), (handler, config))
            self.assert_stopped_cleanly(s)

    def test_bad_mime_value_is_refused(self):
        path = os.path.join(self.tmp, "bad.ini")
        e2e.write_config(path, {"port": 0, "mime": "sometimes"})
        r = subprocess.run([e2e.binary(), "serve", "--check", "--config", path], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"expected auto, on or off", r.stderr)


class Commands(e2e.ServerTestCase):
    def run_ringmail(self, *args, stdin=None):
        return subprocess.run([e2e.binary(), *args], input=stdin, capture_output=True, timeout=60)

    def test_extract_prints_bare_addresses(self):
        r = self.run_ringmail("extract", 'you@there.com, "Bob" <bob@example.com>, undisclosed:;')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode().split(), ["you@there.com", "bob@example.com"])

    def test_parse_prints_json_and_saves_attachments(self):
        path = os.path.join(self.tmp, "m.eml")
        with open(path, "wb") as f:
            f.write(multipart_message().as_bytes())
        save = os.path.join(self.tmp, "saved")
        r = self.run_ringmail("parse", path, "--save", save)
        self.assertEqual(r.returncode, 0, r.stderr)
        j = json.loads(r.stdout)
        self.assertEqual(j["file"], path)
        self.assertEqual(j["subject"], "Grüße aus Köln")
        self.assertIsNone(j["cc"])
        self.assertEqual(j["attachments"]["bild.png"],
                         {"size": len(PNG), "sha256": hashlib.sha256(PNG).hexdigest(), "type": "image/png"})
        with open(os.path.join(save, "bild.png"), "rb") as f:
            self.assertEqual(f.read(), PNG)

    def test_compose_output_parses_back(self):
        img = os.path.join(self.tmp, "logo.png")
        with open(img, "wb") as f:
            f.write(PNG)
        r = self.run_ringmail("compose", "--from", '"Ana" <ana@example.org>', "--to", "b@example.com",
                              "--subject", "Olá", "--text", "hi", "--html", '<img src="cid:logo.png">',
                              "--inline", img)
        self.assertEqual(r.returncode, 0, r.stderr)
        raw = r.stdout
        self.assertNotIn(b"\n", raw.replace(b"\r\n", b""))  # CRLF only
        self.assertTrue(all(len(l) <= 998 for l in raw.split(b"\r\n")))
        path = os.path.join(self.tmp, "c.eml")
        with open(path, "wb") as f:
            f.write(raw)
        j = json.loads(self.run_ringmail("parse", path).stdout)
        self.assertEqual(j["subject"], "Olá")
        self.assertEqual(j["message"].strip(), '<img src="cid:logo.png">')
        self.assertEqual(j["attachments"]["logo.png"]["sha256"], hashlib.sha256(PNG).hexdigest())
        # Python's email package reads it the same way.
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        self.assertEqual(parsed["subject"], "Olá")


if __name__ == "__main__":
    e2e.main()
