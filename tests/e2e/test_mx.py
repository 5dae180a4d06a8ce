# tests/e2e/test_mx.py — `ringmail mx` against a real DNS server: knotd (Knot DNS) started
# here on 127.0.0.1 and a free port with a generated zone, and [relay] resolver pointed at
# it (issue 14). Checks MX order, addresses and TTLs, implicit MX, null MX (5.1.10, exit 2),
# NXDOMAIN (5.1.2, exit 2), a dead first MX (listed with no address, the next one used),
# equal preferences in both orders, SERVFAIL and DNSSEC bogus as temporary (exit 1).
# The zone is under a made-up TLD, ringmail-test.: unbound answers RFC 6761 names such as
# .test and .invalid itself (NXDOMAIN) without asking the forwarder. Skipped without knotd.
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

import ringmail_e2e as e2e

RUN_TIMEOUT = 60
KNOTD = shutil.which("knotd") or next((p for p in ("/usr/sbin/knotd", "/usr/local/sbin/knotd") if os.access(p, os.X_OK)), None)
ROOT_KEY = "/usr/share/dns/root.key"  # dns-root-data, what dnssec = on reads

ZONE = """$ORIGIN ringmail-test.
$TTL 3600
; negative answers last min(SOA TTL, minimum) = 300 s (RFC 2308 5)
@          3600 IN SOA ns hostmaster 1 3600 600 86400 300
@               IN NS  ns
ns              IN A   127.0.0.1
two         900 IN MX  20 mx-b
two         900 IN MX  10 mx-a
mx-a        600 IN A    127.0.0.2
mx-a        600 IN AAAA 2001:db8::2
mx-b        700 IN A    127.0.0.3
mx-b        700 IN AAAA 2001:db8::3
only-a      800 IN A    127.0.0.4
nullmx          IN MX  0 .
deadfirst   900 IN MX  5 nowhere
deadfirst   900 IN MX  10 mx-b
dead        900 IN MX  10 nowhere
equal       900 IN MX  10 mx-a
equal       900 IN MX  10 mx-b
"""


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 (knotd listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


def soa_answered(port):
    """True when the server answers a SOA query for the zone with NOERROR and AA set."""
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + b"\x0dringmail-test\x00" + struct.pack(">HH", 6, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        try:
            s.sendto(q, ("127.0.0.1", port))
            r = s.recv(4096)
        except OSError:
            return False
    if len(r) < 12:
        return False
    rid, flags = struct.unpack(">HH", r[:4])
    return rid == qid and flags & 0x0400 and flags & 0x000F == 0


class Knot:
    """knotd in the foreground, as this user, everything in `workdir`."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "knot")
        os.mkdir(self.dir)
        with open(os.path.join(self.dir, "ringmail-test.zone"), "w") as f:
            f.write(ZONE)
        self.proc = None
        self.port = None

    def start(self):
        for _ in range(5):  # another process may take the port between free_port and bind
            self.port = free_port()
            conf = os.path.join(self.dir, "knot.conf")
            with open(conf, "w") as f:
                f.write(f"""server:
    rundir: "{self.dir}"
    listen: 127.0.0.1@{self.port}
database:
    storage: "{self.dir}"
log:
  - target: stderr
    any: info
template:
  - id: default
    storage: "{self.dir}"
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: ringmail-test.
    file: "ringmail-test.zone"
""")
            self.log = open(os.path.join(self.dir, "knotd.log"), "wb")
            self.proc = subprocess.Popen([KNOTD, "-c", conf], stdin=subprocess.DEVNULL,
                                         stdout=self.log, stderr=subprocess.STDOUT)
            if e2e.poll(lambda: self.proc.poll() is not None or soa_answered(self.port), 20) and self.proc.poll() is None:
                return self
            self.stop()
        raise RuntimeError("knotd did not start: " + self.output())

    def output(self):
        with open(os.path.join(self.dir, "knotd.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")[-2000:]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        self.proc = None


@unittest.skipUnless(KNOTD, "knotd not installed (Debian package knot)")
class Mx(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        e2e.binary()
        tmp = tempfile.TemporaryDirectory(prefix="ringmail-mx-")
        cls.addClassCleanup(tmp.cleanup)
        cls.tmp = tmp.name
        cls.knot = Knot(cls.tmp)
        cls.addClassCleanup(cls.knot.stop)  # LIFO: before the directory goes
        cls.knot.start()
        cls.ini = cls.config("dnssec = off\n")

    @classmethod
    def config(cls, extra, name=None):
        path = os.path.join(cls.tmp, name or "mail.ini")
        with open(path, "w") as f:
            f.write("[relay]\nresolver = 127.0.0.1:%d\n%s" % (cls.knot.port, extra))
        return path

    def mx(self, domain, *args, ini=None):
        p = subprocess.run([e2e.binary(), "mx", domain, "--config", ini or self.ini, *args], cwd=self.tmp,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=RUN_TIMEOUT)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def mx_json(self, domain, ini=None):
        rc, out, err = self.mx(domain, "--json", ini=ini)
        self.assertEqual(err, "")
        return rc, json.loads(out)

    def test_two_hosts_in_preference_order_with_addresses_and_ttl(self):
        rc, j = self.mx_json("two.ringmail-test")
        self.assertEqual(rc, 0, j)
        self.assertEqual(j["status"], "mx")
        self.assertEqual([(h["preference"], h["name"]) for h in j["hosts"]],
                         [(10, "mx-a.ringmail-test"), (20, "mx-b.ringmail-test")])
        self.assertEqual(j["hosts"][0]["addresses"], ["127.0.0.2", "2001:db8::2"])
        self.assertEqual(j["hosts"][1]["addresses"], ["127.0.0.3", "2001:db8::3"])
        # A host lasts as long as its MX record (900) and its A/AAAA (600, 700); the whole
        # answer as long as its shortest part. unbound's own cache may have counted down.
        self.assertTrue(590 <= j["hosts"][0]["ttl"] <= 600, j)
        self.assertTrue(690 <= j["hosts"][1]["ttl"] <= 700, j)
        self.assertTrue(590 <= j["ttl"] <= 600, j)
        self.assertEqual(j["verdict"]["kind"], "deliver")
        self.assertFalse(j["secure"])
        # The text form: the same order, one host a line with its addresses.
        rc, out, err = self.mx("Two.Ringmail-Test.")
        self.assertEqual((rc, err), (0, ""))
        lines = out.splitlines()
        self.assertIn("two.ringmail-test: MX", lines[0])
        self.assertIn("10 mx-a.ringmail-test", lines[1])
        self.assertIn("127.0.0.2 2001:db8::2", lines[1])
        self.assertIn("20 mx-b.ringmail-test", lines[2])
        self.assertIn("127.0.0.3", lines[2])

    def test_implicit_mx_is_the_domain_itself(self):
        rc, j = self.mx_json("only-a.ringmail-test")
        self.assertEqual(rc, 0, j)
        self.assertEqual(j["status"], "implicit-mx")
        self.assertEqual([(h["preference"], h["name"], h["addresses"]) for h in j["hosts"]],
                         [(0, "only-a.ringmail-test", ["127.0.0.4"])])
        # No MX and no AAAA: negative answers, 300 s from the SOA.
        self.assertTrue(290 <= j["ttl"] <= 300, j)
        rc, out, _ = self.mx("only-a.ringmail-test")
        self.assertEqual(rc, 0)
        self.assertIn("implicit MX", out)

    def test_null_mx_fails_at_once_with_5_1_10(self):
        rc, out, err = self.mx("nullmx.ringmail-test")
        self.assertEqual(rc, 2, out + err)
        self.assertEqual(len(out.splitlines()), 1, out)
        self.assertIn("5.1.10", out)
        self.assertIn("null MX", out)
        rc, j = self.mx_json("nullmx.ringmail-test")
        self.assertEqual((rc, j["status"], j["hosts"]), (2, "null-mx", []))
        self.assertEqual((j["verdict"]["kind"], j["verdict"]["code"], j["verdict"]["enhanced"]), ("fail", 556, "5.1.10"))

    def test_nxdomain_fails_at_once_with_5_1_2(self):
        rc, out, err = self.mx("no-such-name.ringmail-test")
        self.assertEqual(rc, 2, out + err)
        self.assertIn("5.1.2", out)
        self.assertIn("does not exist", out)
        rc, j = self.mx_json("no-such-name.ringmail-test")
        self.assertEqual(j["status"], "nxdomain")
        self.assertTrue(290 <= j["ttl"] <= 300, j)  # negative TTL from the SOA

    def test_dead_first_mx_is_listed_without_address_and_skipped(self):
        rc, j = self.mx_json("deadfirst.ringmail-test")
        self.assertEqual(rc, 0, j)
        self.assertEqual([(h["preference"], h["name"], h["status"], h["addresses"]) for h in j["hosts"]],
                         [(5, "nowhere.ringmail-test", "no-address", []),
                          (10, "mx-b.ringmail-test", "ok", ["127.0.0.3", "2001:db8::3"])])
        rc, out, _ = self.mx("deadfirst.ringmail-test")
        self.assertIn("nowhere.ringmail-test (ttl", out)
        self.assertIn("no address (skipped)", out)

    def test_no_mx_host_with_an_address_fails(self):
        rc, out, err = self.mx("dead.ringmail-test")
        self.assertEqual(rc, 2, out + err)
        self.assertIn("5.4.4", out)

    def test_equal_preferences_come_in_both_orders(self):
        seen = set()
        for _ in range(40):
            rc, j = self.mx_json("equal.ringmail-test")
            self.assertEqual(rc, 0, j)
            seen.add(tuple(h["name"] for h in j["hosts"]))
            if len(seen) == 2:
                break
        self.assertEqual(seen, {("mx-a.ringmail-test", "mx-b.ringmail-test"),
                                ("mx-b.ringmail-test", "mx-a.ringmail-test")})

    def test_servfail_is_temporary(self):
        # knotd refuses names outside its zone; unbound turns that into SERVFAIL.
        rc, out, err = self.mx("example.org")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("4.4.3", out)
        self.assertIn("SERVFAIL", out)

    def test_dnssec_defaults_off_with_a_resolver_and_on_marks_the_unsigned_zone_bogus(self):
        ini = self.config("", "no-dnssec-key.ini")  # resolver set, dnssec not given: off
        rc, j = self.mx_json("two.ringmail-test", ini=ini)
        self.assertEqual((rc, j["status"]), (0, "mx"))
        if not os.path.exists(ROOT_KEY):
            self.skipTest(ROOT_KEY + " missing (Debian package dns-root-data)")
        ini = self.config("dnssec = on\n", "dnssec-on.ini")
        rc, out, err = self.mx("two.ringmail-test", ini=ini)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("DNSSEC validation failed", out)

    def test_bad_domain_and_bad_config(self):
        rc, out, _ = self.mx("bad_domain!.example")
        self.assertEqual(rc, 2)
        self.assertIn("bad recipient domain name", out)
        ini = os.path.join(self.tmp, "bad.ini")
        for text, needle in [("[relay]\nresolver = dns.example\n", "bad resolver"),
                             ("[relay]\ndnssec = maybe\n", "dnssec"),
                             ("[relay]\ninet_protocols = ipv5\n", "inet_protocols")]:
            with self.subTest(text=text):
                with open(ini, "w") as f:
                    f.write(text)
                rc, out, err = self.mx("two.ringmail-test", ini=ini)
                self.assertEqual((rc, out), (2, ""))
                self.assertEqual(len(err.splitlines()), 1, err)
                self.assertIn(needle, err)


if __name__ == "__main__":
    e2e.main()
