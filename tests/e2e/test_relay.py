"""The relay (issue 14): `handler = queue` accepts into the durable queue and the same
process delivers, here to a fault-injecting aiosmtpd receiver on 127.0.0.2 (recipients are
address literals, user@[127.0.0.2], so no DNS is involved), or through a smarthost (ringmail
itself with a passwd file, over STARTTLS and implicit TLS). Checks per-recipient results,
retries, bounces (read by flufl.bounce), relay access and the command line's view."""
import json
import os
import re
import stat
import shutil
import smtplib
import socket
import subprocess
import threading
import unittest

import ringmail_e2e as e2e
from ringmail_e2e import make_message
from test_mx import KNOTD, Knot  # knotd with the ringmail-test. zone (MX hosts 127.0.0.2, .3)

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's: python3-aiosmtpd and python3-flufl.bounce
HERE = os.path.dirname(os.path.abspath(__file__))
WAIT = 60  # seconds: bound on waiting for a delivery (retries come after 1 s here)


def free_port(host):
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def system_python_has(module):
    return os.access(SYSTEM_PYTHON, os.X_OK) and subprocess.run(
        [SYSTEM_PYTHON, "-c", "import " + module], capture_output=True, timeout=60).returncode == 0


class Receiver:
    """relay_receiver.py on HOST (and PORT, else a free one), storing into `out`."""

    def __init__(self, test, host="127.0.0.2", port=None):
        self.out = os.path.join(test.tmp, "received-%s" % host)
        os.mkdir(self.out)
        self.port = port or free_port(host)
        self.read = {}  # file name: contents
        self.proc = subprocess.Popen([SYSTEM_PYTHON, os.path.join(HERE, "relay_receiver.py"), host, str(self.port),
                                      self.out], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        test.addCleanup(self.stop)
        line = {}
        t = threading.Thread(target=lambda: line.setdefault("l", self.proc.stdout.readline()), daemon=True)
        t.start()
        t.join(e2e.START_TIMEOUT)
        if not line.get("l", b"").startswith(b"PORT "):
            test.fail("the receiver did not start")

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (subprocess.TimeoutExpired, OSError):
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()

    def messages(self):
        # A stored file is complete (written, then renamed) and never changes: each is read
        # once, so polling thousands of them (the kill -9 test) stays cheap.
        names = sorted(f for f in os.listdir(self.out) if f.endswith(".eml"))
        for f in names:
            if f not in self.read:
                with open(os.path.join(self.out, f), "rb") as fh:
                    self.read[f] = fh.read()
        return [self.read[f] for f in names]

    def wait_for(self, n):
        e2e.poll(lambda: len(self.messages()) >= n, WAIT, 0.1)
        return self.messages()


class RelayTestCase(e2e.ServerTestCase):
    def setUp(self):
        super().setUp()
        if not system_python_has("aiosmtpd"):
            self.skipTest("python3-aiosmtpd not installed for " + SYSTEM_PYTHON)

    def relay(self, relay_keys=None, **server_keys):
        keys = {"queue_dir": os.path.join(self.tmp, "queue"), "retry_base": "1s", "retry_max": "2s"}
        keys.update(relay_keys or {})
        cfg = {"port": 0}
        cfg.update(server_keys)
        cfg["relay"] = keys
        s = self.server(handler="queue", config=cfg)
        self.config = s.config_path
        return s

    def queue(self, *args):
        return subprocess.run([e2e.binary(), "queue"] + list(args) + ["--config", self.config],
                              capture_output=True, timeout=60, cwd=self.tmp)

    def status(self, qid):
        return self.queue("status", qid).stdout.decode().strip()

    def wait_status(self, qid, want):
        return e2e.poll(lambda: self.status(qid) == want, WAIT, 0.1)

    def send(self, port, sender, rcpts, msgid="<relay@example.org>", lines=(b"relayed",)):
        with smtplib.SMTP("127.0.0.1", port, timeout=e2e.IO_TIMEOUT) as c:
            c.ehlo("client.example")
            code, text = c.mail(sender)
            self.assertEqual(code, 250, text)
            for r in rcpts:
                code, text = c.rcpt(r)
                self.assertEqual(code, 250, text)
            code, text = c.data(make_message(msgid, list(lines)))
            self.assertEqual(code, 250, text)
            m = re.search(rb"queued as ([0-9a-f]{16})", text)
            self.assertTrue(m, text)
            return m.group(1).decode()


class Relay(RelayTestCase):
    def test_delivers_and_reports_sent(self):
        rx = Receiver(self)
        s = self.relay({"mx_port": rx.port})
        qid = self.send(s.port, "sender@example.org", ["r1@[127.0.0.2]", "r2@[127.0.0.2]"])
        [m] = rx.wait_for(1)
        self.assertTrue(m.startswith(b"X-Envelope: sender@example.org r1@[127.0.0.2],r2@[127.0.0.2]\n"), m[:100])
        self.assertIn(b"\nReceived: from client.example", m)  # our trace field, at the top
        self.assertIn(b"Message-ID: <relay@example.org>", m)
        self.assertTrue(self.wait_status(qid, "sent"), self.status(qid))
        show = json.loads(self.queue("show", qid, "--json").stdout)
        self.assertEqual([r["status"] for r in show["recipients"]], ["sent", "sent"])
        self.assertEqual([r["attempts"] for r in show["recipients"]], [1, 1])
        self.assertIn("250", show["recipients"][0]["last_reply"])
        # The log line is written at the end of the engine's turn, after the result.
        line = re.compile(r"delivery id=%s to=r1@\[127\.0\.0\.2\] .*status=sent" % qid)
        self.assertTrue(e2e.poll(lambda: line.search(s.stderr()), WAIT, 0.1), s.stderr())
        # Messages that come one by one share the connection (it waits a moment when idle).
        more = [self.send(s.port, "sender@example.org", ["r3@[127.0.0.2]"], "<next-%d@example.org>" % i)
                for i in range(3)]
        msgs = rx.wait_for(4)
        self.assertEqual(len(msgs), 4)
        sessions = {m.split(b"\n")[1] for m in msgs[1:]}
        self.assertEqual(len(sessions), 1, sessions)
        for q in more:
            self.assertTrue(self.wait_status(q, "sent"), q)
        self.assert_stopped_cleanly(s)
        # Delivered to everyone: the bodies leave the spool (the file the server appended
        # them to goes when it is let go at the stop), the rows stay for `status`.
        self.assertEqual(os.listdir(os.path.join(self.tmp, "queue", "spool")), [])
        self.assertEqual(self.status(qid), "sent")

    def test_refused_recipient_bounces_to_the_sender_and_a_bounce_never_bounces(self):
        if not system_python_has("flufl.bounce"):
            self.skipTest("python3-flufl.bounce not installed")
        rx = Receiver(self)
        # Everything goes to the receiver (as a smarthost), so the bounce comes back there.
        s = self.relay({"smarthost": "127.0.0.2:%d" % rx.port})
        qid = self.send(s.port, "owner@example.org", ["ok@example.com", "bad-one@example.com"])
        msgs = rx.wait_for(2)
        self.assertEqual(len(msgs), 2, (msgs, s.stderr()))
        bounce = next(m for m in msgs if m.startswith(b"X-Envelope: <> owner@example.org\n"))  # MAIL FROM:<>
        path = os.path.join(self.tmp, "bounce.eml")
        with open(path, "wb") as f:
            f.write(bounce.split(b"\n", 1)[1])
        found = subprocess.run([SYSTEM_PYTHON, "-c",
                                "import email,sys\nfrom flufl.bounce import scan_message\n"
                                "print(sorted(a.decode() for a in scan_message(email.message_from_binary_file("
                                "open(sys.argv[1],'rb')))))", path], capture_output=True, timeout=60)
        self.assertEqual(found.stdout.decode().strip(), "['bad-one@example.com']", found.stderr)
        self.assertIn(b"Status: 5.1.1", bounce)
        self.assertIn(b"Subject: test", bounce)  # the original's header section comes back
        self.assertTrue(self.wait_status(qid, "error"))  # none pending, one failed
        # A message from a sender the receiver refuses: its bounce is refused too, and
        # that failure makes no further bounce.
        self.send(s.port, "bad-sender@example.org", ["bad-two@example.com"], "<second@example.org>")
        self.assertTrue(e2e.poll(lambda: "to=bad-sender@example.org" in s.stderr(), WAIT, 0.1))
        self.assert_stopped_cleanly(s)
        self.assertEqual(s.stderr().count("ringmail: bounce "), 2, s.stderr())
        self.assertIn("to=bad-sender@example.org host=", s.stderr())

    def test_temporary_failures_are_retried(self):
        rx = Receiver(self)
        s = self.relay({"mx_port": rx.port})
        qid = self.send(s.port, "sender@example.org", ["tempfirst@[127.0.0.2]"])
        [m] = rx.wait_for(1)
        self.assertTrue(m.startswith(b"X-Envelope: sender@example.org tempfirst@[127.0.0.2]\n"))
        self.assertTrue(self.wait_status(qid, "sent"))
        show = json.loads(self.queue("show", qid, "--json").stdout)
        self.assertEqual(show["recipients"][0]["attempts"], 2)
        self.assertIn("status=deferred", s.stderr())
        self.assert_stopped_cleanly(s)

    def test_connection_dropped_mid_data_is_retried(self):
        rx = Receiver(self)
        s = self.relay({"mx_port": rx.port})
        qid = self.send(s.port, "sender@example.org", ["drop@[127.0.0.2]"])
        [m] = rx.wait_for(1)
        self.assertIn(b"drop@[127.0.0.2]", m.split(b"\n", 1)[0])
        self.assertTrue(self.wait_status(qid, "sent"))
        self.assert_stopped_cleanly(s)

    def test_no_server_there_is_retried_then_bounced_at_max_attempts(self):
        rx = Receiver(self)  # the bounce goes here; the recipient's host has nothing listening
        s = self.relay({"mx_port": rx.port, "max_attempts": 2})
        qid = self.send(s.port, "owner@[127.0.0.2]", ["nobody@[127.0.0.3]"])
        self.assertTrue(self.wait_status(qid, "error"))
        show = json.loads(self.queue("show", qid, "--json").stdout)
        self.assertEqual(show["recipients"][0]["attempts"], 2)
        self.assertIn("gave up after 2 attempts", show["recipients"][0]["last_reply"])
        [bounce] = rx.wait_for(1)
        self.assertIn(b"Final-Recipient: rfc822; nobody@[127.0.0.3]", bounce)
        self.assert_stopped_cleanly(s)

    def test_a_host_that_is_down_is_not_tried_again_for_every_message(self):
        rx = Receiver(self)  # on 127.0.0.2; nothing listens on 127.0.0.3 at that port
        s = self.relay({"mx_port": rx.port, "retry_base": "1h"})
        deferred = lambda: len(re.findall(r"delivery id=\S+ to=nobody@\[127\.0\.0\.3\] .*status=deferred",
                                          s.stderr()))
        ids = [self.send(s.port, "owner@[127.0.0.2]", ["nobody@[127.0.0.3]"], "<down0@example.org>")]
        self.assertTrue(e2e.poll(lambda: deferred() == 1, WAIT, 0.1), s.stderr())
        ids += [self.send(s.port, "owner@[127.0.0.2]", ["nobody@[127.0.0.3]"], "<down%d@example.org>" % i)
                for i in range(1, 6)]
        self.assertTrue(e2e.poll(lambda: deferred() == 6, WAIT, 0.1), s.stderr())
        # The first delivery found the host down; the next ones waited without a
        # connection each, and say why.
        self.assertEqual(s.stderr().count('event="connection failed"'), 1, s.stderr())
        self.assertEqual(s.stderr().count("delivery temporarily suspended: cannot connect"), 5, s.stderr())
        self.assertEqual([self.status(i) for i in ids], ["queued"] * 6)
        self.assert_stopped_cleanly(s)

    def test_relay_access(self):
        rx = Receiver(self)
        s = self.relay({"mx_port": rx.port, "relay_networks": "10.0.0.0/8", "relay_domains": "example.com"})
        with smtplib.SMTP("127.0.0.1", s.port, timeout=e2e.IO_TIMEOUT) as c:
            c.ehlo("client.example")
            c.mail("a@example.org")
            code, text = c.rcpt("r@[127.0.0.2]")
            self.assertEqual((code, text[:5]), (554, b"5.7.1"))
            self.assertEqual(c.rcpt("someone@EXAMPLE.com")[0], 250)
        self.assert_stopped_cleanly(s)

    def test_messages_added_on_the_command_line_are_delivered(self):
        rx = Receiver(self)
        s = self.relay({"mx_port": rx.port})
        # `queue add` wakes the engine through this FIFO (else the engine's tick finds it).
        wake = os.path.join(self.tmp, "queue", "wake")
        self.assertTrue(e2e.poll(lambda: os.path.exists(wake), WAIT, 0.05))
        self.assertTrue(stat.S_ISFIFO(os.stat(wake).st_mode))
        body = os.path.join(self.tmp, "m.eml")
        with open(body, "wb") as f:
            f.write(make_message("<cli@example.org>", [b"from the command line"]))
        r = self.queue("add", "--from", "cli@example.org", "--to", "r@[127.0.0.2]", "--priority", "high", body)
        self.assertEqual(r.returncode, 0, r.stderr)
        qid = r.stdout.decode().strip()
        [m] = rx.wait_for(1)
        self.assertIn(b"<cli@example.org>", m)
        self.assertTrue(self.wait_status(qid, "sent"))
        self.assert_stopped_cleanly(s)


class PostfixSink(RelayTestCase):
    """Delivery to a receiver nobody here wrote: Postfix's smtp-sink on 127.0.0.3, which
    dumps each transaction to a file of its own (-d)."""

    def test_delivers_to_smtp_sink(self):
        sink = "/usr/sbin/smtp-sink"
        if not os.access(sink, os.X_OK):
            self.skipTest("Postfix smtp-sink not installed (/usr/sbin/smtp-sink)")
        port = free_port("127.0.0.3")
        dump = os.path.join(self.tmp, "sink")
        os.mkdir(dump)
        if os.geteuid() == 0:  # the sink runs as nobody: let it through to its directory
            os.chmod(self.tmp, 0o711)
            shutil.chown(dump, "nobody")
        args = [sink] + (["-u", "nobody"] if os.geteuid() == 0 else []) + \
            ["-d", dump + "/m.", "127.0.0.3:%d" % port, "100"]
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (p.poll() is None and p.kill(), p.wait(timeout=10)))

        def listening():
            try:
                socket.create_connection(("127.0.0.3", port), timeout=1).close()
                return True
            except OSError:
                return False
        self.assertTrue(e2e.poll(listening, e2e.START_TIMEOUT), "smtp-sink did not start")
        s = self.relay({"mx_port": port})
        qids = [self.send(s.port, "sender@example.org", ["r%d@[127.0.0.3]" % i], "<sink-%d@example.org>" % i)
                for i in range(3)]
        for q in qids:
            self.assertTrue(self.wait_status(q, "sent"), s.stderr())

        def dumped():
            out = b""
            for name in os.listdir(dump):
                with open(os.path.join(dump, name), "rb") as f:
                    out += f.read()
            return out
        self.assertTrue(e2e.poll(lambda: all(b"<sink-%d@example.org>" % i in dumped() for i in range(3)), WAIT, 0.1),
                        dumped()[:500])
        self.assert_stopped_cleanly(s)


class Durability(RelayTestCase):
    # Issue 14: kill -9 during the delivery of 10,000 messages (2,000 under sanitizers, which
    # run several times slower). All are acknowledged while the receiver is down (each is
    # deferred an hour), then the receiver starts, the relay is restarted with it as its
    # smarthost, `queue flush` makes them due, and the relay is killed once half arrived. The receiver is ringmail itself (Maildir).
    SANITIZED = os.environ.get("RINGMAIL_SANITIZED") == "1"
    MESSAGES = 2000 if SANITIZED else 10000
    CLIENTS = 4

    def test_kill_9_during_delivery_loses_nothing_acknowledged(self):
        s = self.relay({"smarthost": "127.0.0.1:%d" % free_port("127.0.0.1"), "smarthost_tls": "none",
                        "retry_base": "1h", "retry_max": "1h"})  # nobody there yet
        acked, lock = [], threading.Lock()

        def client(k):
            with smtplib.SMTP("127.0.0.1", s.port, timeout=e2e.IO_TIMEOUT) as c:
                for i in range(k, self.MESSAGES, self.CLIENTS):
                    msgid = "kill-%d@example.org" % i
                    c.sendmail("sender@example.org", ["r@example.net"], make_message("<%s>" % msgid, [b"x"]))
                    with lock:
                        acked.append(msgid)

        threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(self.CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        self.assertEqual(len(acked), self.MESSAGES)
        d = os.path.join(self.tmp, "receiver")
        os.mkdir(d)
        rx = e2e.Server(d, config={"port": 0})
        self.addCleanup(rx.kill)
        rx.start()
        self.assert_stopped_cleanly(s)
        s.config["relay"]["smarthost"] = "127.0.0.1:%d" % rx.port
        s.start()
        self.assertEqual(self.queue("flush").returncode, 0)  # due now; the FIFO wakes the relay
        self.assertTrue(e2e.poll(lambda: e2e.count_files(rx.maildir) >= self.MESSAGES // 2, 180, 0.02), s.stderr())
        s.kill()
        delivered_before = e2e.count_files(rx.maildir)
        self.assertLess(delivered_before, self.MESSAGES)  # the kill came during delivery
        s.start()  # the same queue directory
        seen = {}  # file name: Message-ID, each file read once

        def ids():
            new = os.path.join(rx.maildir, "new")
            for name in os.listdir(new):
                if name not in seen:
                    with open(os.path.join(new, name), "rb") as f:
                        found = re.search(rb"Message-ID: <([^>]+)>", f.read())
                    seen[name] = found.group(1).decode() if found else None
            return list(seen.values())

        want = set(acked)
        self.assertTrue(e2e.poll(lambda: want <= set(ids()), 180, 0.5),
                        "%d acknowledged messages not delivered" % len(want - set(ids())))
        got = ids()
        duplicates = len(got) - len(set(got))
        print("kill -9: %d acknowledged, %d delivered before the kill, %d duplicates" %
              (len(acked), delivered_before, duplicates))
        # Duplicates are messages delivered whose result was not yet written: at most a
        # turn's worth per connection (5 connections).
        self.assertLessEqual(duplicates, 10)
        self.assert_stopped_cleanly(s)


class Priority(RelayTestCase):
    def add(self, sender, priority="low", not_before=None):
        body = os.path.join(self.tmp, "m.eml")
        with open(body, "wb") as f:
            f.write(make_message("<%s>" % sender, [b"queued"]))
        args = ["add", "--from", sender, "--to", "r@[127.0.0.2]", "--priority", priority]
        if not_before:
            args += ["--not-before", not_before]
        r = self.queue(*(args + [body]))
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.decode().strip()

    def test_high_priority_goes_first_and_not_before_holds(self):
        rx = Receiver(self)
        self.config = os.path.join(self.tmp, "mail.ini")
        keys = {"queue_dir": os.path.join(self.tmp, "queue"), "mx_port": rx.port, "connections": 1}
        e2e.write_config(self.config, {"port": 0, "relay": keys})
        # Queued before any server runs: 150 low ones, then one high, then one held back.
        for i in range(150):
            self.add("low-%d@example.org" % i)
        self.add("high@example.org", "high")
        later = self.add("later@example.org", "high", "2099-01-01T00:00:00Z")
        s = self.relay({"mx_port": rx.port, "connections": 1})
        msgs = rx.wait_for(151)
        self.assertEqual(len(msgs), 151)
        self.assertTrue(msgs[0].startswith(b"X-Envelope: high@example.org "), msgs[0][:80])
        self.assertEqual(self.status(later), "queued")  # its date has not come
        self.assertEqual(self.queue("flush").returncode, 0)  # now it has
        self.assertEqual(len(rx.wait_for(152)), 152)
        self.assertTrue(self.wait_status(later, "sent"))
        self.assert_stopped_cleanly(s)


def free_port_on(hosts):
    """A port free on every one of `hosts` (mx_port is one port for all MX hosts)."""
    for _ in range(50):
        port = free_port(hosts[0])
        ok = True
        for h in hosts[1:]:
            with socket.socket() as probe:
                try:
                    probe.bind((h, port))
                except OSError:
                    ok = False
        if ok:
            return port
    raise RuntimeError("no common free port")


@unittest.skipUnless(KNOTD, "knotd not installed (Debian package knot)")
class MxDelivery(RelayTestCase):
    """Domains routed through DNS: knotd serves ringmail-test. (see test_mx.py's zone)."""

    def setUp(self):
        super().setUp()
        self.knot = Knot(self.tmp)
        self.addCleanup(self.knot.stop)
        self.knot.start()
        self.port = free_port_on(["127.0.0.2", "127.0.0.3", "127.0.0.4"])

    def mx_relay(self, **keys):
        # ipv4: the zone's AAAA records are documentation addresses off this machine, and
        # tests send nothing past loopback.
        k = {"mx_port": self.port, "resolver": "127.0.0.1:%d" % self.knot.port, "dnssec": "off",
             "inet_protocols": "ipv4"}
        k.update(keys)
        return self.relay(k)

    def test_lowest_preference_first_and_implicit_mx(self):
        a, b = Receiver(self, "127.0.0.2", self.port), Receiver(self, "127.0.0.3", self.port)
        c = Receiver(self, "127.0.0.4", self.port)
        s = self.mx_relay()
        qid = self.send(s.port, "sender@example.org", ["r@two.ringmail-test"])
        [m] = a.wait_for(1)  # mx-a (10) before mx-b (20)
        self.assertIn(b"r@two.ringmail-test", m.split(b"\n")[0])
        self.assertEqual(b.messages(), [])
        self.send(s.port, "sender@example.org", ["r@only-a.ringmail-test"], "<implicit@example.org>")
        self.assertEqual(len(c.wait_for(1)), 1)  # no MX: the domain's own address
        self.assertTrue(self.wait_status(qid, "sent"))
        self.assertIn("host=\"mx-a.ringmail-test [127.0.0.2]\"", s.stderr())
        self.assert_stopped_cleanly(s)

    def test_falls_back_to_the_next_mx_and_skips_hosts_without_address(self):
        b = Receiver(self, "127.0.0.3", self.port)  # nothing listens on mx-a (127.0.0.2)
        s = self.mx_relay()
        q1 = self.send(s.port, "sender@example.org", ["r@two.ringmail-test"])
        q2 = self.send(s.port, "sender@example.org", ["r@deadfirst.ringmail-test"], "<dead@example.org>")
        self.assertEqual(len(b.wait_for(2)), 2)
        self.assertTrue(self.wait_status(q1, "sent"))
        self.assertTrue(self.wait_status(q2, "sent"))
        self.assert_stopped_cleanly(s)

    def test_null_mx_and_nxdomain_fail_at_once_with_a_bounce(self):
        rx = Receiver(self, "127.0.0.2", self.port)  # the sender's mailbox, as an address literal
        s = self.mx_relay()
        q1 = self.send(s.port, "owner@[127.0.0.2]", ["r@nullmx.ringmail-test"])
        q2 = self.send(s.port, "owner@[127.0.0.2]", ["r@nosuch.ringmail-test"], "<nx@example.org>")
        self.assertTrue(self.wait_status(q1, "error"))
        self.assertTrue(self.wait_status(q2, "error"))
        r1 = json.loads(self.queue("show", q1, "--json").stdout)["recipients"][0]
        r2 = json.loads(self.queue("show", q2, "--json").stdout)["recipients"][0]
        self.assertEqual((r1["attempts"], r2["attempts"]), (1, 1))  # no retries
        self.assertIn("5.1.10", r1["last_reply"])
        self.assertIn("5.1.2", r2["last_reply"])
        bounces = rx.wait_for(2)
        self.assertEqual(len(bounces), 2)
        self.assertTrue(any(b"Status: 5.1.10" in m for m in bounces))
        self.assert_stopped_cleanly(s)


class Chunking(RelayTestCase):
    """RFC 3030 on the way out: BDAT to a receiver that offers CHUNKING (ringmail), DATA to
    one that does not (aiosmtpd); either way the body arrives byte for byte: lines that
    start with dots (never doubled in a chunk, stuffed and unstuffed after DATA), 8-bit."""

    BODY = (b".leading dot", b"..two dots", b".", b"caf\xc3\xa9 \xe2\x82\xac 8-bit", b"", b"last")

    def send_8bit(self, port, rcpt, msgid):
        msg = make_message(msgid, list(self.BODY))
        with smtplib.SMTP("127.0.0.1", port, timeout=e2e.IO_TIMEOUT) as c:
            c.ehlo("client.example")
            code, text = c.mail("sender@example.org", ["BODY=8BITMIME"])
            self.assertEqual(code, 250, text)
            code, text = c.rcpt(rcpt)
            self.assertEqual(code, 250, text)
            code, text = c.data(msg)  # smtplib stuffs the dots
            self.assertEqual(code, 250, text)
            return re.search(rb"queued as ([0-9a-f]{16})", text).group(1).decode(), msg

    def test_bdat_to_a_ringmail_receiver(self):
        d = os.path.join(self.tmp, "receiver")
        os.mkdir(d)
        rx = e2e.Server(d, config={"port": 0})  # Maildir handler; offers CHUNKING and 8BITMIME
        self.addCleanup(rx.kill)
        rx.start()
        s = self.relay({"smarthost": "localhost:%d" % rx.port, "smarthost_tls": "none"})
        qid, msg = self.send_8bit(s.port, "far@example.net", "<bdat@example.org>")
        self.assertTrue(e2e.poll(lambda: e2e.count_files(rx.maildir) == 1, WAIT, 0.1), s.stderr())
        self.assertTrue(self.wait_status(qid, "sent"), s.stderr())
        [stored] = e2e.maildir_files(rx.maildir).values()
        # The receiver's trace fields, then the relay's Received field, then the message.
        rest = e2e.split_trace(stored, "sender@example.org")
        self.assertTrue(rest.startswith(b"Received: "), rest[:200])
        self.assertTrue(rest.endswith(msg), rest)
        self.assertEqual(rest.count(b"Message-ID: <bdat@example.org>"), 1)
        line = re.compile(r"delivery id=%s to=far@example\.net .*status=sent .*chunking=yes" % qid)
        self.assertTrue(e2e.poll(lambda: line.search(s.stderr()), WAIT, 0.1), s.stderr())
        self.assert_stopped_cleanly(s)

    def test_data_to_a_receiver_without_chunking(self):
        rx = Receiver(self)  # aiosmtpd offers no CHUNKING
        s = self.relay({"mx_port": rx.port})
        qid, msg = self.send_8bit(s.port, "r@[127.0.0.2]", "<data@example.org>")
        [m] = rx.wait_for(1)
        self.assertTrue(m.endswith(msg), m)  # aiosmtpd unstuffed what we stuffed
        self.assertEqual(m.count(b"Message-ID: <data@example.org>"), 1)
        self.assertTrue(self.wait_status(qid, "sent"), s.stderr())
        line = re.compile(r"delivery id=%s to=r@\[127\.0\.0\.2\] .*status=sent" % qid)
        self.assertTrue(e2e.poll(lambda: line.search(s.stderr()), WAIT, 0.1), s.stderr())
        self.assertNotIn("chunking=", s.stderr())
        self.assert_stopped_cleanly(s)


def make_cert(directory, cn="localhost"):
    crt, key = os.path.join(directory, "sh.crt"), os.path.join(directory, "sh.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=DNS:" + cn, "-days", "1", "-keyout", key, "-out", crt],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    return crt, key


class Smarthost(RelayTestCase):
    def smarthost(self):
        """ringmail with a passwd file, STARTTLS on its port and implicit TLS on another."""
        if not shutil.which("openssl"):
            self.skipTest("openssl not installed")
        d = os.path.join(self.tmp, "smarthost")
        os.mkdir(d)
        crt, key = make_cert(d)
        users = os.path.join(d, "users.txt")
        hashed = subprocess.run(["openssl", "passwd", "-6", "secret"], check=True, capture_output=True,
                                timeout=60).stdout.decode().strip()
        with open(users, "w") as f:
            f.write("relayuser:" + hashed + "\n")
        sh = e2e.Server(d, config={"port": 0, "tls_port": "auto", "tls_crt": crt, "tls_key": key,
                                   "auth_users": users})
        self.addCleanup(sh.kill)
        sh.start()
        return sh, crt

    def through(self, tls, port_of):
        sh, crt = self.smarthost()
        s = self.relay({"smarthost": "localhost:%d" % port_of(sh), "smarthost_tls": tls,
                        "smarthost_user": "relayuser", "smarthost_password": "secret", "ca_file": crt})
        qid = self.send(s.port, "sender@example.org", ["far@example.net"], "<sh-%s@example.org>" % tls)
        self.assertTrue(e2e.poll(lambda: e2e.count_files(sh.maildir) == 1, WAIT, 0.1), s.stderr())
        self.assertTrue(self.wait_status(qid, "sent"))
        [path] = [os.path.join(sh.maildir, "new", f) for f in os.listdir(os.path.join(sh.maildir, "new"))]
        with open(path, "rb") as f:
            stored = f.read()
        self.assertIn(b"<sh-%s@example.org>" % tls.encode(), stored)
        self.assertIn(b"with ESMTPSA", stored)  # TLS and a login, as the smarthost saw it
        self.assert_stopped_cleanly(s)

    def test_auth_over_starttls(self):
        self.through("starttls", lambda sh: sh.port)

    def test_auth_over_implicit_tls(self):
        self.through("smtps", lambda sh: sh.tls_port)

    def test_a_message_with_its_own_smarthost_goes_through_it(self):
        """The original's per-message host, port, user, password and TLS, kept in the queue:
        that message goes through its own smarthost, the others by the relay's route."""
        sh, _ = self.smarthost()
        rx = Receiver(self)
        s = self.relay({"smarthost": "127.0.0.2:%d" % rx.port})
        pw = os.path.join(self.tmp, "pw")
        with open(pw, "w") as f:
            f.write("secret\n")

        def queue_own(subject, *extra):
            r = subprocess.run([e2e.binary(), "send", "--queue", "--config", self.config,
                                "--from", "sender@example.org", "--to", "far@example.net", "--subject", subject,
                                "--text", "own route", "--host", "localhost", "--port", str(sh.port),
                                "--tls", "starttls", "--user", "relayuser", "--password-file", pw] + list(extra),
                               capture_output=True, timeout=60, cwd=self.tmp)
            self.assertEqual(r.returncode, 0, r.stderr)
            return r.stdout.decode().strip()

        own = queue_own("own-route", "--insecure")  # the test's certificate is self-signed
        other = self.send(s.port, "sender@example.org", ["far@example.net"], "<relay-route@example.org>")
        self.assertTrue(e2e.poll(lambda: e2e.count_files(sh.maildir) == 1, WAIT, 0.1), s.stderr())
        self.assertTrue(self.wait_status(own, "sent"), s.stderr())
        [path] = [os.path.join(sh.maildir, "new", f) for f in os.listdir(os.path.join(sh.maildir, "new"))]
        with open(path, "rb") as f:
            stored = f.read()
        self.assertIn(b"Subject: own-route", stored)
        self.assertIn(b"with ESMTPSA", stored)  # TLS and the message's own login
        [m] = rx.wait_for(1)  # the other one took the relay's smarthost
        self.assertIn(b"<relay-route@example.org>", m)
        self.assertNotIn(b"own-route", m)
        self.assertTrue(self.wait_status(other, "sent"))
        show = self.queue("show", own, "--json")
        self.assertEqual(json.loads(show.stdout)["smarthost"], "localhost:%d" % sh.port)
        self.assertNotIn("smarthost", json.loads(self.queue("show", other, "--json").stdout))
        self.assertNotIn(b"secret", show.stdout)
        # Certificates are checked unless the message said not to: this one is deferred.
        checked = queue_own("checked")
        self.assertTrue(e2e.poll(lambda: re.search(r"delivery id=%s .*status=deferred" % checked, s.stderr()),
                                 WAIT, 0.1), s.stderr())
        self.assertEqual(self.status(checked), "queued")
        self.assertEqual(e2e.count_files(sh.maildir), 1)
        self.assertNotIn("secret", s.stderr())  # the password is in no log line
        self.assert_stopped_cleanly(s)

    def test_credentials_without_auth_offered_is_a_temporary_error(self):
        rx = Receiver(self)  # aiosmtpd without an authenticator offers no AUTH
        s = self.relay({"smarthost": "127.0.0.2:%d" % rx.port, "smarthost_user": "u", "smarthost_password": "p"})
        qid = self.send(s.port, "sender@example.org", ["far@example.net"])
        self.assertTrue(e2e.poll(lambda: "status=deferred" in s.stderr(), WAIT, 0.1), s.stderr())
        self.assertIn("AUTH", s.stderr())
        self.assertEqual(self.status(qid), "queued")
        self.assertEqual(rx.messages(), [])  # never a silent unauthenticated send
        self.assert_stopped_cleanly(s)


class SmarthostByName(RelayTestCase):
    """The smarthost's name is looked up off the engine's thread by the system's resolver."""

    def test_localhost_by_name(self):
        rx = Receiver(self, host="127.0.0.1")  # localhost may come as ::1 first: that one is refused
        s = self.relay({"smarthost": "localhost:%d" % rx.port})
        qid = self.send(s.port, "sender@example.org", ["far@example.net"], "<by-name@example.org>")
        [m] = rx.wait_for(1)
        self.assertIn(b"<by-name@example.org>", m)
        self.assertTrue(self.wait_status(qid, "sent"))
        self.assertIn('host="localhost [127.0.0.1]"', s.stderr())
        self.assert_stopped_cleanly(s)

    def test_a_name_that_does_not_resolve_is_a_temporary_failure(self):
        s = self.relay({"smarthost": "no-such-host.invalid:25"})
        qid = self.send(s.port, "sender@example.org", ["far@example.net"])
        line = re.compile(r"delivery id=%s .*status=deferred reply=\"no-such-host\.invalid: " % qid)
        self.assertTrue(e2e.poll(lambda: line.search(s.stderr()), WAIT, 0.1), s.stderr())
        self.assertEqual(self.status(qid), "queued")
        self.assert_stopped_cleanly(s)


class Timeouts(RelayTestCase):
    def test_a_server_that_never_answers_is_given_up_for_now(self):
        # Connections complete in the kernel's backlog; nobody ever reads or writes them.
        stalled = socket.socket()
        self.addCleanup(stalled.close)
        stalled.bind(("127.0.0.2", 0))
        stalled.listen(16)
        s = self.relay({"smarthost": "127.0.0.2:%d" % stalled.getsockname()[1], "reply_timeout": "1s"})
        qid = self.send(s.port, "sender@example.org", ["far@example.net"])
        line = re.compile(r"delivery id=%s .*status=deferred reply=\"timed out waiting for the greeting of "
                          r"127\.0\.0\.2\"" % qid)
        self.assertTrue(e2e.poll(lambda: line.search(s.stderr()), WAIT, 0.1), s.stderr())
        self.assertEqual(self.status(qid), "queued")
        self.assert_stopped_cleanly(s)


if __name__ == "__main__":
    unittest.main()
