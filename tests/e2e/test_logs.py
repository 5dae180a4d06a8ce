"""The server's log (issue 13 item 13): one line per connection opened and closed (with
its counts), one per message (sender, recipients, size, result and where it went), one
per failure; `log_format = json` makes every line a JSON object."""
import json
import os
import queue
import re
import signal
import smtplib
import subprocess
import threading
import unittest

import ringmail_e2e as e2e
from ringmail_e2e import make_message


class Logs(e2e.ServerTestCase):
    def deliver(self, s):
        with smtplib.SMTP("127.0.0.1", s.port, timeout=e2e.IO_TIMEOUT) as c:
            c.sendmail("log-sender@example.org", ["r1@example.com", "r2@example.com"],
                       make_message("<log-1@example.org>", [b"logged"]))
            # A refused message: the recipient limit is fine, the line too long is not.
            c.mail("log-sender@example.org")
            c.rcpt("r1@example.com")
            code, _ = c.data(b"Subject: long\r\n\r\n" + b"x" * 2000 + b"\r\n")
            self.assertEqual(code, 500)

    def test_text_lines_per_connection_and_message(self):
        s = self.server()
        self.deliver(s)
        s.stop()
        err = s.stderr()
        connect = re.search(r"^ringmail: connect conn=(\d+\.\d+) ip=127\.0\.0\.1 port=plain$", err, re.M)
        self.assertTrue(connect, err)
        conn = connect.group(1)
        msg = re.search(r"^ringmail: message conn=%s ip=127\.0\.0\.1 from=log-sender@example\.org rcpts=2 "
                        r"size=(\d+) result=accepted text=\"OK queued as ([^\"]+)\" ms=\d+$" % re.escape(conn), err, re.M)
        self.assertTrue(msg, err)
        self.assertGreater(int(msg.group(1)), 0)
        # The Maildir file named in the line is the message's.
        files = e2e.maildir_files(s.maildir)
        self.assertEqual(len(files), 1)
        self.assertTrue(any(name.startswith(msg.group(2)) for name in files), (msg.group(2), list(files)))
        self.assertTrue(re.search(r"^ringmail: disconnect conn=%s ip=127\.0\.0\.1 accepted=1 refused=0 ms=\d+$"
                                  % re.escape(conn), err, re.M), err)

    def test_json_lines_are_json_and_escape_what_clients_send(self):
        s = self.server(config={"port": 0, "log_format": "json"})
        self.deliver(s)
        # A sender with a quote and a backslash (a quoted local part) must stay one field.
        with smtplib.SMTP("127.0.0.1", s.port, timeout=e2e.IO_TIMEOUT) as c:
            c.sendmail('"a\\"b\\\\c"@example.org', ["r@example.com"], make_message("<log-2@example.org>", [b"x"]))
        s.stop()
        records = []
        for line in s.stderr().splitlines():
            records.append(json.loads(line))  # every line, the start and stop ones too
        events = [r["event"] for r in records]
        for e in ("start", "connect", "message", "disconnect"):
            self.assertIn(e, events)
        msgs = [r for r in records if r["event"] == "message"]
        self.assertEqual(msgs[0]["from"], "log-sender@example.org")
        self.assertEqual(msgs[0]["rcpts"], 2)
        self.assertEqual(msgs[0]["result"], "accepted")
        self.assertTrue(msgs[0]["text"].startswith("OK queued as "))
        self.assertEqual(msgs[1]["from"], '"a\\"b\\\\c"@example.org')
        for r in records:
            self.assertRegex(r["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


    def test_discarded_messages_are_counted_whole(self):
        # The discard handler keeps no body (nobody reads it): the size in its log line is
        # still the message's, unstuffed, by DATA and by BDAT; a bare LF is still refused.
        s = self.server(handler="discard")
        msg = b"Subject: sized\r\n\r\n..leading dot\r\n" + b"y" * 500 + b"\r\n"
        with e2e.RawClient(s.port) as c:
            self.assertIn("CHUNKING", c.greet_ehlo())
            self.assertEqual(c.cmd("MAIL FROM:<data@example.org>").code, 250)
            self.assertEqual(c.cmd("RCPT TO:<r@example.com>").code, 250)
            self.assertEqual(c.cmd("DATA").code, 354)
            self.assertEqual(c.cmd(msg + b".").code, 250)
            self.assertEqual(c.cmd("MAIL FROM:<bdat@example.org>").code, 250)
            self.assertEqual(c.cmd("RCPT TO:<r@example.com>").code, 250)
            c.send(b"BDAT 10\r\n" + msg[:10])
            self.assertEqual(c.reply().code, 250)
            c.send(b"BDAT %d LAST\r\n" % (len(msg) - 10) + msg[10:])
            self.assertEqual(c.reply().code, 250)
            self.assertEqual(c.cmd("MAIL FROM:<bare@example.org>").code, 250)
            self.assertEqual(c.cmd("RCPT TO:<r@example.com>").code, 250)
            self.assertEqual(c.cmd("DATA").code, 354)
            self.assertEqual(c.cmd(b"bare\nline\r\n.").code, 550)
            self.assertEqual(c.cmd("QUIT").code, 221)
        s.stop()
        err = s.stderr()
        sizes = dict(re.findall(r"^ringmail: message conn=\S+ ip=\S+ from=(\S+) rcpts=1 size=(\d+) result=accepted",
                                err, re.M))
        unstuffed = len(msg) - 1  # the DATA copy had one dot stuffed
        self.assertEqual(sizes, {"data@example.org": str(unstuffed), "bdat@example.org": str(len(msg))}, err)

    def test_lines_through_a_pipe_come_whole_and_in_order(self):
        # stderr a pipe (as journald's): the reactors write through the ring, not write(2).
        config = os.path.join(self.tmp, "pipe.ini")
        e2e.write_config(config, {"port": 0, "reactors": 2})
        proc = subprocess.Popen([e2e.binary(), "serve", "--config", config, "--handler", "discard"],
                                cwd=self.tmp, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        lines = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(l.decode()) for l in proc.stderr], daemon=True)
        reader.start()

        def until(pattern):
            seen = []
            while True:
                line = lines.get(timeout=e2e.IO_TIMEOUT)
                seen.append(line)
                m = re.search(pattern, line)
                if m:
                    return m, seen

        m, _ = until(r"listening on 127\.0\.0\.1:(\d+)")
        port = int(m.group(1))
        for i in range(20):  # several connections, so both reactors log
            with smtplib.SMTP("127.0.0.1", port, timeout=e2e.IO_TIMEOUT) as c:
                c.sendmail("pipe@example.org", ["r@example.com"], make_message("<pipe-%d@example.org>" % i, [b"x"]))
        _, seen = until(r"disconnect .*accepted=1")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=30), 0)
        reader.join(timeout=30)
        while not lines.empty():
            seen.append(lines.get())
        text = "".join(seen)
        for line in seen:
            self.assertTrue(line.startswith("ringmail: ") and line.endswith("\n"), repr(line))  # whole lines
        # Every connection's three lines, in order: connect, then message, then disconnect.
        conns = re.findall(r"^ringmail: connect conn=(\S+)", text, re.M)
        self.assertEqual(len(conns), 20, text)
        for conn in conns:
            order = [e for e in re.findall(r"^ringmail: (connect|message|disconnect) conn=%s " % re.escape(conn), text, re.M)]
            self.assertEqual(order, ["connect", "message", "disconnect"], (conn, text))
        self.assertEqual({c.split(".")[0] for c in conns}, {"0", "1"}, conns)  # both reactors wrote
        self.assertIn("ringmail: stopped", text)


if __name__ == "__main__":
    unittest.main()
