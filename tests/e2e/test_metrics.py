"""GET /metrics and the event log (issue 15): `ringmail serve` with handler = queue delivers
to the aiosmtpd receiver of test_relay (127.0.0.2); mail goes in with smtplib, /metrics comes
out through curl and is checked with promtool (Debian's prometheus package) and against what
was sent; [server] event_log gets one JSON line per message received, delivery attempt and
bounce, with the ids that the queue shows."""
import json
import os
import re
import shutil
import signal
import subprocess

import ringmail_e2e as e2e
from test_relay import Receiver, RelayTestCase, WAIT

CURL = "/usr/bin/curl"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
SAMPLE = re.compile(r'^([a-z_]+)(\{[^}]*\})? (\S+)$')


def parse(text):
    """{(name, labels text): value} of an exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, line
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


class Metrics(RelayTestCase):
    def setUp(self):
        super().setUp()
        if not os.access(CURL, os.X_OK):
            self.skipTest("curl not installed")

    def start(self, rx, token=None):
        self.events = os.path.join(self.tmp, "events.jsonl")
        extra = {"http": {"token": token}} if token else {}
        s = self.relay({"mx_port": rx.port}, event_log=self.events, **extra)
        self.assertIsNotNone(s.http_port, s.stderr())
        self.base = "http://127.0.0.1:%d" % s.http_port
        return s

    def scrape(self, headers=()):
        """(status, content type, body text) of GET /metrics through curl."""
        out = os.path.join(self.tmp, "metrics.out")
        args = [CURL, "-sS", "-o", out, "-w", "%{http_code} %{content_type}"]
        for h in headers:
            args += ["-H", h]
        p = subprocess.run(args + [self.base + "/metrics"], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        code, ctype = p.stdout.decode().split(" ", 1)
        with open(out, encoding="utf-8") as f:
            return int(code), ctype, f.read()

    def promtool(self, text):
        if not os.access(PROMTOOL, os.X_OK):
            return "promtool not installed (Debian package prometheus)"
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return None

    def event_lines(self):
        with open(self.events, encoding="utf-8") as f:
            return [json.loads(line) for line in f]  # each line one JSON object, or this fails

    def test_counters_move_by_what_was_sent_and_promtool_accepts_them(self):
        rx = Receiver(self)
        s = self.start(rx)
        code, ctype, text = self.scrape()
        self.assertEqual(code, 200, text)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        before = parse(text)
        self.assertEqual(before[("ringmail_smtp_messages_accepted_total", "")], 0)
        ids = [self.send(s.port, "sender@[127.0.0.2]", ["ok%d@[127.0.0.2]" % i], msgid="<m%d@example.org>" % i)
               for i in range(3)]
        for qid in ids:
            self.assertTrue(self.wait_status(qid, "sent"), self.status(qid))
        # A deferred-then-sent recipient and a refused one: one bounce, delivered to the sender.
        mixed = self.send(s.port, "sender@[127.0.0.2]", ["tempfirst@[127.0.0.2]", "bad@[127.0.0.2]"],
                          msgid="<mixed@example.org>")
        self.assertTrue(self.wait_status(mixed, "error"), self.status(mixed))
        self.assertTrue(e2e.poll(lambda: len(rx.messages()) == 5, WAIT, 0.1), s.stderr())

        def settled():
            m = parse(self.scrape()[2])
            return m[("ringmail_queue_messages", '{status="queued",priority="medium"}')] == 0 and \
                m[("ringmail_delivery_attempts_total", '{result="sent"}')] == 5
        self.assertTrue(e2e.poll(settled, WAIT, 0.1), self.scrape()[2])
        code, _, text = self.scrape()
        skipped = self.promtool(text)
        m = parse(text)
        sizes = [int(x) for x in re.findall(r"event=message .*?size=(\d+) result=accepted",
                                            s.stderr().replace("ringmail: message", "event=message"))]
        self.assertEqual(len(sizes), 4, s.stderr())
        want = {
            ("ringmail_smtp_connections_accepted_total", ""): 4,
            ("ringmail_smtp_connections_open", ""): 0,
            ("ringmail_smtp_messages_received_total", ""): 4,
            ("ringmail_smtp_messages_accepted_total", ""): 4,
            ("ringmail_smtp_messages_rejected_total", ""): 0,
            ("ringmail_smtp_message_bytes_accepted_total", ""): sum(sizes),
            ("ringmail_tls_handshakes_total", '{result="ok"}'): 0,
            ("ringmail_tls_handshakes_total", '{result="failed"}'): 0,
            # 3 + tempfirst's second try + the bounce; tempfirst's first; bad.
            ("ringmail_delivery_attempts_total", '{result="sent"}'): 5,
            ("ringmail_delivery_attempts_total", '{result="deferred"}'): 1,
            ("ringmail_delivery_attempts_total", '{result="bounced"}'): 1,
            ("ringmail_queue_messages", '{status="queued",priority="medium"}'): 0,
            ("ringmail_queue_messages", '{status="sent",priority="medium"}'): 4,  # 3 + the bounce
            ("ringmail_queue_messages", '{status="error",priority="medium"}'): 1,
            ("ringmail_delivery_latency_seconds_count", ""): 6,  # final results: 5 sent + 1 bounced
            ("ringmail_delivery_latency_seconds_bucket", '{le="+Inf"}'): 6,
            ("ringmail_relay_connections_open", ""): m[("ringmail_relay_connections_open", "")],
        }
        self.assertEqual({k: m.get(k) for k in want}, want, text)
        self.assertLessEqual(m[("ringmail_relay_connections_open", "")], 5)
        self.assert_stopped_cleanly(s)
        if skipped:
            self.skipTest(skipped + "; the rest passed")

    def test_token_applies_to_metrics(self):
        rx = Receiver(self)
        s = self.start(rx, token="sekrit")
        self.assertEqual(self.scrape()[0], 401)
        self.assertEqual(self.scrape(["Authorization: Bearer wrong"])[0], 401)
        code, _, text = self.scrape(["Authorization: Bearer sekrit"])
        self.assertEqual(code, 200, text)
        self.assertIn("ringmail_smtp_connections_accepted_total 0\n", text)
        self.assert_stopped_cleanly(s)

    def test_event_log_has_a_json_line_per_reception_attempt_and_bounce(self):
        rx = Receiver(self)
        s = self.start(rx)
        ok = self.send(s.port, "sender@[127.0.0.2]", ["ok@[127.0.0.2]"], msgid="<ok@example.org>")
        mixed = self.send(s.port, "sender@[127.0.0.2]", ["tempfirst@[127.0.0.2]", "bad@[127.0.0.2]"],
                          msgid="<mixed@example.org>")
        self.assertTrue(self.wait_status(ok, "sent"), self.status(ok))
        self.assertTrue(self.wait_status(mixed, "error"), self.status(mixed))
        listed = {m["id"]: m for m in json.loads(self.queue("list", "--json").stdout)}
        bounce_ids = [i for i, m in listed.items() if m["from"] == ""]
        self.assertEqual(len(bounce_ids), 1, listed)
        self.assertTrue(self.wait_status(bounce_ids[0], "sent"), self.status(bounce_ids[0]))

        def lines():
            return [e for e in self.event_lines() if e["event"] != "reception" or e["id"]]
        self.assertTrue(e2e.poll(lambda: len(lines()) >= 8, WAIT, 0.1), self.event_lines())
        ev = self.event_lines()
        for e in ev:
            self.assertRegex(e["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        rec = [(e["id"], e["result"], e["from"], e["rcpts"]) for e in ev if e["event"] == "reception"]
        self.assertEqual(rec, [(ok, "accepted", "sender@[127.0.0.2]", 1), (mixed, "accepted", "sender@[127.0.0.2]", 2)])
        dels = sorted((e["id"], e["to"], e["status"], e["attempt"]) for e in ev if e["event"] == "delivery")
        self.assertEqual(dels, sorted([
            (ok, "ok@[127.0.0.2]", "sent", 1),
            (mixed, "tempfirst@[127.0.0.2]", "deferred", 1),
            (mixed, "bad@[127.0.0.2]", "bounced", 1),
            (mixed, "tempfirst@[127.0.0.2]", "sent", 2),
            (bounce_ids[0], "sender@[127.0.0.2]", "sent", 1),
        ]))
        bad = [e for e in ev if e["event"] == "delivery" and e["status"] == "bounced"][0]
        self.assertTrue(bad["reply"].startswith("550"), bad)
        self.assertEqual([(e["id"], e["of"], e["to"]) for e in ev if e["event"] == "bounce"],
                         [(bounce_ids[0], mixed, "sender@[127.0.0.2]")])
        self.assertTrue(set(e["id"] for e in ev) <= set(listed), (ev, listed))
        # SIGUSR1 after a rename (logrotate): new lines go to a new file at the path.
        os.rename(self.events, self.events + ".1")
        s.send_signal(signal.SIGUSR1)
        self.assertTrue(e2e.poll(lambda: "event_log reopened" in s.stderr(), WAIT, 0.05), s.stderr())
        again = self.send(s.port, "sender@[127.0.0.2]", ["ok2@[127.0.0.2]"], msgid="<again@example.org>")
        self.assertTrue(self.wait_status(again, "sent"), self.status(again))
        self.assertTrue(e2e.poll(lambda: os.path.exists(self.events) and
                                 sum(1 for e in self.event_lines() if e["event"] == "delivery") == 1, WAIT, 0.1))
        self.assertEqual([(e["event"], e["id"]) for e in self.event_lines()],
                         [("reception", again), ("delivery", again)])
        self.assert_stopped_cleanly(s)


if __name__ == "__main__":
    e2e.main()
