# tests/e2e/test_send_queue.py — `ringmail send --queue` and `--merge FILE.csv` (issue 15)
# against the real binary: queued messages show up in `ringmail queue` with their priority
# and not-before, their bodies (read back from the spool) hold the composed message with
# HTML images linked by path, a CSV merge makes one message per row with its own tokens, in
# one batch, or sent now to `ringmail serve`; bad input is one line on stderr and exit 2.
import email
import email.policy
import json
import os
import re
import subprocess

import ringmail_e2e as e2e

RUN_TIMEOUT = 30
ID_RE = re.compile(r"^[0-9a-f]{16}$")
IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256))

CSV = (b"email,FirstName,City\r\n"
       b"john@example.com,John,Berlin\r\n"
       b"\"Jane Roe <jane@example.com>\",\"Jane \"\"JJ\"\"\",\"Paris, France\"\r\n"
       b"anon@example.net,,\n")


def text(part):
    """A text part's content with the line ends Python keeps from the wire made LF."""
    return part.get_content().replace("\r\n", "\n")


class SendQueue(e2e.ServerTestCase):
    def setUp(self):
        super().setUp()
        self.config = os.path.join(self.tmp, "queue.ini")
        self.queue_dir = os.path.join(self.tmp, "q")
        with open(self.config, "w") as f:
            f.write("port = 0\n[relay]\nqueue_dir = %s\nmax_message_size = 64k\n" % self.queue_dir)

    def write(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def run_cmd(self, *args):
        return subprocess.run([e2e.binary(), *args], cwd=self.tmp, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=RUN_TIMEOUT)

    def send(self, *args):
        return self.run_cmd("send", "--from", '"Site" <site@example.org>', *args)

    def show(self, ident):
        p = self.run_cmd("queue", "show", ident, "--json", "--config", self.config)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def bodies(self, ids):
        """The queued bodies in the order of `ids` (one batch: one spool file, appended in order)."""
        spool = os.path.join(self.queue_dir, "spool")
        files = os.listdir(spool)
        self.assertEqual(len(files), 1, files)
        with open(os.path.join(spool, files[0]), "rb") as f:
            data = f.read()
        out, at = [], 0
        for i in ids:
            size = self.show(i)["size"]
            out.append(data[at:at + size])
            at += size
        return out

    def assert_exit_2(self, p, *words):
        err = p.stderr.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 2, err)
        self.assertEqual(len(err.splitlines()), 1, "want exactly one line: %r" % err)
        for w in words:
            self.assertIn(w, err)

    def test_queue_prints_the_id_with_priority_and_not_before(self):
        img = self.write("logo.png", IMAGE)
        p = self.send("--to", "Bob <bob@example.com>", "--bcc", "hidden@example.net", "--subject", "Queued",
                      "--text", "plain words", "--html", '<p>Hi</p><img src="%s">' % img, "--html-image", img,
                      "--queue", "--priority", "high", "--not-before", "2099-01-02T03:04:05Z",
                      "--config", self.config)
        self.assertEqual(p.returncode, 0, p.stderr)
        ident = p.stdout.decode().strip()
        self.assertRegex(ident, ID_RE)
        shown = self.show(ident)
        self.assertEqual(shown["status"], "queued")
        self.assertEqual(shown["priority"], "high")
        self.assertEqual(shown["from"], "site@example.org")
        self.assertEqual([r["address"] for r in shown["recipients"]], ["bob@example.com", "hidden@example.net"])
        self.assertEqual(shown["recipients"][0]["next_attempt"], "2099-01-02T03:04:05Z")
        status = self.run_cmd("queue", "status", ident, "--config", self.config)
        self.assertEqual(status.stdout, b"queued\n")

        [raw] = self.bodies([ident])
        head = raw.split(b"\r\n\r\n", 1)[0]
        self.assertNotIn(b"hidden", head)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.assertEqual(msg["Subject"], "Queued")
        html = msg.get_body(("html",)).get_content()
        self.assertIn('<img src="cid:logo.png">', html)
        self.assertNotIn(img, html)
        [image] = [part for part in msg.walk() if part.get_filename() == "logo.png"]
        self.assertEqual(image.get_payload(decode=True), IMAGE)
        self.assertEqual(image["Content-ID"], "<logo.png>")
        self.assertEqual(text(msg.get_body(("plain",))), "plain words\n")

    def test_merge_queues_one_message_per_row_in_one_batch(self):
        csv = self.write("list.csv", CSV)
        p = self.send("--subject", "Hi #FirstName#", "--text", "Dear #FirstName# in #City##Nope#.",
                      "--token", "City=somewhere", "--merge", csv, "--queue", "--priority", "low",
                      "--config", self.config)
        self.assertEqual(p.returncode, 0, p.stderr)
        ids = p.stdout.decode().split()
        self.assertEqual(len(ids), 3, ids)
        want = [("john@example.com", "John", "Berlin"), ("jane@example.com", 'Jane "JJ"', "Paris, France"),
                ("anon@example.net", "", "")]
        for ident, raw, (address, first, city) in zip(ids, self.bodies(ids), want):
            shown = self.show(ident)
            self.assertEqual(shown["priority"], "low")
            self.assertEqual([r["address"] for r in shown["recipients"]], [address])
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            self.assertEqual(msg["To"], address)
            self.assertEqual(msg["Subject"], ("Hi " + first).strip() if first else "Hi")
            # an empty column is a value (empty), so the --token default does not apply
            self.assertEqual(text(msg), "Dear %s in %s.\n" % (first, city))

    def test_merge_sends_now_one_message_per_row(self):
        s = self.server()
        csv = self.write("list.csv", CSV)
        p = self.send("--host", "127.0.0.1", "--port", str(s.port), "--timeout", "10", "--subject", "Now",
                      "--text", "Hello #FirstName#", "--merge", csv)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout.decode()
        for a in ("john@example.com", "jane@example.com", "anon@example.net"):
            self.assertIn(a + ": accepted", out)
        self.assertTrue(e2e.poll(lambda: e2e.count_files(s.maildir) >= 3, e2e.IO_TIMEOUT), s.stderr())
        got = {}
        d = os.path.join(s.maildir, "new")
        for name in os.listdir(d):
            with open(os.path.join(d, name), "rb") as f:
                msg = email.message_from_bytes(f.read(), policy=email.policy.default)
            got[msg["To"]] = text(msg)
        self.assertEqual(got, {"john@example.com": "Hello John\n", "jane@example.com": 'Hello Jane "JJ"\n',
                               "anon@example.net": "Hello \n"})

    def test_bad_input_exits_2_and_queues_nothing(self):
        csv = self.write("list.csv", CSV)
        q = ["--queue", "--config", self.config]
        cases = [
            (["--to", "b@example.com", "--priority", "high"], ["--queue"]),
            (["--to", "b@example.com", "--priority", "urgent"] + q, ["--priority", "'urgent'"]),
            (["--to", "b@example.com", "--not-before", "tomorrow"] + q, ["--not-before"]),
            (["--merge", csv, "--cc", "c@example.com"] + q, ["--merge"]),
            (["--merge", self.write("empty.csv", b"email,Name\n")] + q, ["no recipients"]),
            (["--merge", self.write("bad.csv", b"email\nnot an address\n")] + q, ["row 2"]),
            (["--to", "b@example.com", "--text", "x" * 70000] + q, ["limit"]),
            (["--to", "b@example.com", "--html", "x", "--html-file", csv], ["--html-file"]),
        ]
        for args, words in cases:
            with self.subTest(args=args[:4]):
                self.assert_exit_2(self.send(*args), *words)
        spool = os.path.join(self.queue_dir, "spool")
        self.assertEqual(os.listdir(spool) if os.path.isdir(spool) else [], [])


if __name__ == "__main__":
    e2e.main()
