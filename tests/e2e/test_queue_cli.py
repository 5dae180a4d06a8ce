# tests/e2e/test_queue_cli.py — `ringmail queue` (issue 14) against the real binary on a
# queue in the test's temporary directory: add, list, show --json, status, retry, flush,
# remove; bad input of every kind is one line on stderr and exit status 2.
import json
import os
import re
import subprocess

import ringmail_e2e as e2e

RUN_TIMEOUT = 30
ID_RE = re.compile(r"^[0-9a-f]{16}$")
MESSAGE = b"From: a@example.org\r\nTo: b@example.com\r\nSubject: queued\r\n\r\nHello.\r\n"


class QueueCli(e2e.ServerTestCase):
    def setUp(self):
        super().setUp()
        self.config = os.path.join(self.tmp, "mail.ini")
        self.queue_dir = os.path.join(self.tmp, "q")
        with open(self.config, "w") as f:
            f.write("port = 0\n[relay]\nqueue_dir = %s\nmax_message_size = 4k\n" % self.queue_dir)
        self.message = os.path.join(self.tmp, "message.eml")
        with open(self.message, "wb") as f:
            f.write(MESSAGE)

    def queue(self, *args, stdin=None):
        return subprocess.run([e2e.binary(), "queue", *args, "--config", self.config], cwd=self.tmp,
                              input=stdin if stdin is not None else b"", capture_output=True,
                              timeout=RUN_TIMEOUT)

    def ok(self, *args, stdin=None):
        p = self.queue(*args, stdin=stdin)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, b"")
        return p.stdout.decode()

    def assert_exit_2(self, p, *words):
        err = p.stderr.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 2, err)
        self.assertEqual(len(err.splitlines()), 1, "want exactly one line: %r" % err)
        self.assertTrue(err.startswith("ringmail: "), err)
        for w in words:
            self.assertIn(w, err)

    def add_two(self):
        first = self.ok("add", "--from", "a@example.org", "--to", "b@example.com", "--to", "c@example.net",
                        self.message).strip()
        second = self.ok("add", "--from", "", "--to", "d@example.com", "--priority", "high",
                         "--not-before", "2099-01-02T03:04:05Z", "-", stdin=b"Subject: two\r\n\r\nx\r\n").strip()
        self.assertRegex(first, ID_RE)
        self.assertRegex(second, ID_RE)
        self.assertNotEqual(first, second)
        return first, second

    def test_add_list_show_status(self):
        first, second = self.add_two()
        self.assertEqual(len(os.listdir(os.path.join(self.queue_dir, "spool"))), 2)

        lines = self.ok("list").splitlines()
        self.assertEqual([l.split()[0] for l in lines], sorted([first, second]))
        self.assertTrue(all(" queued " in l for l in lines), lines)

        listed = json.loads(self.ok("list", "--json"))
        self.assertEqual({m["id"] for m in listed}, {first, second})
        self.assertEqual(json.loads(self.ok("list", "--status", "sent", "--json")), [])
        self.assertEqual(self.ok("list", "--status", "error"), "")

        shown = json.loads(self.ok("show", first, "--json"))
        self.assertEqual(list(shown), ["id", "status", "priority", "from", "size", "created", "recipients"])
        self.assertEqual(shown["id"], first)
        self.assertEqual(shown["status"], "queued")
        self.assertEqual(shown["priority"], "medium")
        self.assertEqual(shown["from"], "a@example.org")
        self.assertEqual(shown["size"], len(MESSAGE))
        self.assertRegex(shown["created"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual([r["address"] for r in shown["recipients"]], ["b@example.com", "c@example.net"])
        for r in shown["recipients"]:
            self.assertEqual(list(r), ["address", "status", "attempts", "last_reply", "next_attempt"])
            self.assertEqual(r["status"], "queued")
            self.assertEqual(r["attempts"], 0)
            self.assertIsNone(r["last_reply"])
            self.assertRegex(r["next_attempt"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

        later = json.loads(self.ok("show", "--json", second))
        self.assertEqual(later["priority"], "high")
        self.assertEqual(later["from"], "")
        self.assertEqual(later["size"], len(b"Subject: two\r\n\r\nx\r\n"))
        self.assertEqual(later["recipients"][0]["next_attempt"], "2099-01-02T03:04:05Z")  # not-before held

        text = self.ok("show", first)
        self.assertIn("status: queued", text)
        self.assertIn("<c@example.net>", text)
        self.assertEqual(self.ok("status", first), "queued\n")
        self.assertEqual(self.ok("status", second.upper()), "queued\n")  # hex of either case

    def test_retry_flush_remove(self):
        first, second = self.add_two()
        self.assertIn(first, self.ok("retry", first))
        # retry makes the not-before message due now: an operator's explicit decision
        self.ok("retry", second)
        later = json.loads(self.ok("show", second, "--json"))
        self.assertNotEqual(later["recipients"][0]["next_attempt"], "2099-01-02T03:04:05Z")
        self.assertIn("2 message(s)", self.ok("retry", "--all"))
        self.assertIn("message(s) due now", self.ok("flush"))

        spool = os.path.join(self.queue_dir, "spool")
        self.assertEqual(len(os.listdir(spool)), 2)  # each `add` is a batch: a spool file each
        self.assertIn(second, self.ok("remove", second))
        self.assertEqual(len(os.listdir(spool)), 1)  # the removed message's body went
        self.assertEqual([l.split()[0] for l in self.ok("list").splitlines()], [first])
        self.assert_exit_2(self.queue("status", second), second, "no message")
        self.assert_exit_2(self.queue("remove", second), second)
        self.assertEqual(self.ok("status", first), "queued\n")

    def test_bad_input_exits_2_with_one_line(self):
        first, _ = self.add_two()
        missing = os.path.join(self.tmp, "no-such.eml")
        big = os.path.join(self.tmp, "big.eml")
        with open(big, "wb") as f:
            f.write(b"x" * 4097)
        add = ["add", "--from", "a@example.org", "--to", "b@example.com"]
        cases = [
            (["status", "0000000000000001"], ["no message 0000000000000001"]),
            (["show", "0000000000000001", "--json"], ["no message"]),
            (["status", "xyz"], ["'xyz'", "not a message id"]),
            (["show", first + "0"], ["not a message id"]),
            (["remove", "../../etc/passwd"], ["not a message id"]),
            (["status", "\x1b[31m"], ["\\x1b"]),
            (["retry"], ["--all"]),
            (["list", "--status", "lost"], ["--status", "queued, sent or error"]),
            (add + ["--priority", "urgent", self.message], ["--priority", "'urgent'"]),
            (add + ["--not-before", "tomorrow", self.message], ["--not-before", "ISO 8601"]),
            (add + ["--not-before", "2026-02-30T00:00:00Z", self.message], ["--not-before", "out of range"]),
            (add + [missing], ["no-such.eml", "cannot read"]),
            (add + [self.tmp], ["cannot read"]),
            (add + [big], ["max_message_size"]),
            (["add", "--from", "a@example.org", "--to", "not an address", self.message], ["--to"]),
            (["add", "--from", "a@example.org", self.message], ["--to"]),
        ]
        for args, words in cases:
            with self.subTest(args=args):
                self.assert_exit_2(self.queue(*args), *words)
        # stdin over the limit too, and nothing of the refused messages stays behind
        self.assert_exit_2(self.queue(*add, "-", stdin=b"y" * 5000), "max_message_size")
        self.assertEqual(len(os.listdir(os.path.join(self.queue_dir, "spool"))), 2)
        self.assertEqual(os.listdir(os.path.join(self.queue_dir, "tmp")), [])

    def test_config_and_queue_dir_problems_exit_2(self):
        p = subprocess.run([e2e.binary(), "queue", "list", "--config", os.path.join(self.tmp, "none.ini")],
                           cwd=self.tmp, capture_output=True, timeout=RUN_TIMEOUT)
        self.assert_exit_2(p, "none.ini")
        bad = os.path.join(self.tmp, "bad.ini")
        with open(bad, "w") as f:
            f.write("[relay]\nmax_message_size = lots\n")
        p = subprocess.run([e2e.binary(), "queue", "list", "--config", bad], cwd=self.tmp,
                           capture_output=True, timeout=RUN_TIMEOUT)
        self.assert_exit_2(p, "max_message_size")
        # Only add creates a queue: a list on a queue that was never made says so.
        self.assert_exit_2(self.queue("list"), "no queue", self.queue_dir)
        self.assertFalse(os.path.exists(self.queue_dir))

    def test_default_queue_dir_without_config(self):
        # No --config and no mail.ini: [relay] queue_dir defaults to ./queue.
        os.remove(self.config)
        run = lambda *a, **kw: subprocess.run([e2e.binary(), "queue", *a], cwd=self.tmp, capture_output=True,
                                              timeout=RUN_TIMEOUT, **kw)
        p = run("add", "--from", "a@example.org", "--to", "b@example.com", self.message)
        self.assertEqual(p.returncode, 0, p.stderr)
        qid = p.stdout.decode().strip()
        self.assertEqual(len(os.listdir(os.path.join(self.tmp, "queue", "spool"))), 1)
        self.assertEqual(run("status", qid).stdout, b"queued\n")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "mail.ini")))  # never written by queue


if __name__ == "__main__":
    e2e.main()
