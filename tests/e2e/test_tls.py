# tests/e2e/test_tls.py — STARTTLS (RFC 3207) and implicit TLS (RFC 8314) with real
# clients: openssl s_client, swaks, Python's smtplib and ssl, curl. Also the CVE-2011-0411
# injection case, the AUTH-needs-TLS policy, bad certificates, hostile handshakes that
# must not disturb other sessions, and certificate reload on SIGHUP. The tests make their
# own certificates with openssl. Every wait is bounded; every process is ours, by PID.
import os
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import unittest

import ringmail_e2e as e2e

TOOL_TIMEOUT = 60  # seconds for one client run


def make_cert(directory, name, cn="localhost"):
    crt = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + cn,
                    "-days", "1", "-keyout", key, "-out", crt],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=TOOL_TIMEOUT)
    return crt, key


def fingerprint_of_file(crt):
    out = subprocess.run(["openssl", "x509", "-in", crt, "-noout", "-fingerprint", "-sha256"],
                         check=True, capture_output=True, timeout=TOOL_TIMEOUT).stdout.decode()
    return out.strip().split("=", 1)[1]


def fingerprint_of_der(der):
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-fingerprint", "-sha256"],
                         input=der, check=True, capture_output=True, timeout=TOOL_TIMEOUT).stdout.decode()
    return out.strip().split("=", 1)[1]


def client_context():
    """The tests' certificates are self-signed: no verification, as `-k` and swaks do."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def non_loopback_address():
    """This machine's address on its default route, or None (no packet is sent)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the route
        addr = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if addr.startswith("127.") or addr == "0.0.0.0" else addr


def message(msgid):
    return e2e.make_message(msgid, [b"over TLS"])


class TlsTestCase(e2e.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("openssl"):
            raise unittest.SkipTest("openssl not installed")
        cls.certdir = __import__("tempfile").mkdtemp(prefix="ringmail-tls-certs-")
        cls.crt, cls.key = make_cert(cls.certdir, "a")
        cls.crt2, cls.key2 = make_cert(cls.certdir, "b")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certdir, ignore_errors=True)

    def tls_server(self, implicit=True, **config):
        cfg = {"tls_crt": self.crt, "tls_key": self.key}
        cfg.update(config)
        extra = ["--tls-port", "auto"] if implicit else []
        return self.server(config=cfg, extra_args=extra)

    def tls_client(self, port, host="127.0.0.1"):
        """A raw SMTP client already inside implicit TLS."""
        c = e2e.RawClient(port, host=host)
        c.sock = client_context().wrap_socket(c.sock, server_hostname="localhost")
        return c

    def starttls(self, c):
        """EHLO, STARTTLS, handshake; returns the EHLO keywords seen before TLS."""
        exts = c.greet_ehlo()
        self.assertIn("STARTTLS", exts)
        r = c.cmd("STARTTLS")
        self.assertEqual(r.code, 220, r)
        self.assertEqual(c.buf, b"")
        c.sock = client_context().wrap_socket(c.sock, server_hostname="localhost")
        return exts

    def run_tool(self, args, stdin=None):
        return subprocess.run(args, input=stdin, capture_output=True, timeout=TOOL_TIMEOUT)

    def wait_stored(self, server, n):
        got = e2e.poll(lambda: e2e.count_files(server.maildir) >= n, e2e.IO_TIMEOUT)
        self.assertTrue(got, "expected %d stored messages, have %d" % (n, e2e.count_files(server.maildir)))


class OpenSslClient(TlsTestCase):
    def s_client(self, args):
        r = self.run_tool(["openssl", "s_client", "-quiet", "-ign_eof"] + args, stdin=b"EHLO c.test\r\nQUIT\r\n")
        return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")

    def test_starttls_on_the_plain_port(self):
        s = self.tls_server(implicit=False)
        rc, out, err = self.s_client(["-starttls", "smtp", "-connect", "127.0.0.1:%d" % s.port])
        self.assertEqual(rc, 0, err)
        self.assertIn("250-PIPELINING", out)
        self.assertNotIn("STARTTLS", out)  # not offered again inside TLS
        self.assertIn("221 2.0.0 Bye", out)

    def test_implicit_tls_port(self):
        s = self.tls_server()
        self.assertIsNotNone(s.tls_port)
        rc, out, err = self.s_client(["-connect", "127.0.0.1:%d" % s.tls_port])
        self.assertEqual(rc, 0, err)
        self.assertIn("ESMTP ringmail", out)  # the greeting comes inside TLS
        self.assertNotIn("STARTTLS", out)
        self.assertIn("221 2.0.0 Bye", out)

    def test_tls_1_2_and_1_3(self):
        s = self.tls_server()
        for flag in ("-tls1_2", "-tls1_3"):
            rc, out, err = self.s_client([flag, "-connect", "127.0.0.1:%d" % s.tls_port])
            self.assertEqual(rc, 0, flag + ": " + err)
            self.assertIn("221 2.0.0 Bye", out, flag)

    def test_old_protocols_refused(self):
        # The client is allowed TLS 1.1 (SECLEVEL=0); the refusal must be the server's
        # "protocol version" alert, not the client declining on its own.
        s = self.tls_server()
        r = self.run_tool(["openssl", "s_client", "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0",
                           "-connect", "127.0.0.1:%d" % s.tls_port], stdin=b"QUIT\r\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"alert protocol version", r.stderr + r.stdout)

    def test_session_resumption(self):
        s = self.tls_server()
        sess = os.path.join(self.tmp, "sess.pem")
        # TLS 1.2: a session id from the server cache; s_client saves and offers it.
        rc, _, err = self.s_client(["-tls1_2", "-sess_out", sess, "-connect", "127.0.0.1:%d" % s.tls_port])
        self.assertEqual(rc, 0, err)
        r = self.run_tool(["openssl", "s_client", "-tls1_2", "-sess_in", sess, "-ign_eof",
                           "-connect", "127.0.0.1:%d" % s.tls_port], stdin=b"QUIT\r\n")
        self.assertIn(b"Reused, TLSv1.2", r.stdout, r.stderr)


class PythonSmtplib(TlsTestCase):
    def test_starttls_and_smtp_ssl_deliver(self):
        s = self.tls_server()
        with smtplib.SMTP("127.0.0.1", s.port, timeout=e2e.IO_TIMEOUT) as c:
            c.ehlo()
            self.assertTrue(c.has_extn("starttls"))
            c.starttls(context=client_context())
            c.ehlo()
            self.assertFalse(c.has_extn("starttls"))
            c.sendmail("a@example.org", ["b@example.net"], message("<starttls@test>"))
        with smtplib.SMTP_SSL("127.0.0.1", s.tls_port, timeout=e2e.IO_TIMEOUT, context=client_context()) as c:
            c.sendmail("a@example.org", ["b@example.net"], message("<smtps@test>"))
        self.wait_stored(s, 2)
        stored = e2e.stored_messages(s.maildir, "a@example.org")
        self.assertEqual(sorted(stored), ["<smtps@test>", "<starttls@test>"])
        self.assertEqual(e2e.stored_messages(s.maildir, "a@example.org")["<smtps@test>"][0],
                         message("<smtps@test>"))
        for data in e2e.maildir_files(s.maildir).values():  # RFC 3848 in the trace field
            self.assertIn(b" with ESMTPS id ", data)


class Injection(TlsTestCase):
    """CVE-2011-0411: commands pipelined with STARTTLS must not run, neither in plaintext
    nor inside TLS."""

    def test_pipelined_rset_is_neither_answered_nor_executed(self):
        s = self.tls_server(implicit=False)
        with s.connect() as c:
            c.greet_ehlo()
            c.send(b"STARTTLS\r\nRSET\r\nMAIL FROM:<evil@example.org>\r\n")
            r = c.reply()
            self.assertEqual((r.code, r.lines), (220, ["2.0.0 Ready to start TLS"]))
            self.assertEqual(c.buf, b"")
            # A plaintext "250" for RSET would break this handshake.
            c.sock = client_context().wrap_socket(c.sock, server_hostname="localhost")
            ehlo = c.cmd("EHLO c.test")
            self.assertEqual(ehlo.code, 250)
            self.assertIn("Hello", ehlo.lines[0])
            # Had the injected MAIL run, this would be "503 nested MAIL".
            self.assertEqual(c.cmd("MAIL FROM:<a@example.org>").code, 250)
            self.assertEqual(c.cmd("NOOP").code, 250)
            self.assertEqual(c.cmd("QUIT").code, 221)

    def test_second_starttls_refused(self):
        s = self.tls_server(implicit=False)
        with s.connect() as c:
            self.starttls(c)
            self.assertNotIn("STARTTLS", [l.upper() for l in c.cmd("EHLO c.test").lines])
            r = c.cmd("STARTTLS")
            self.assertEqual((r.code, r.lines), (554, ["5.5.1 TLS already active"]))

    def test_state_reset_after_starttls(self):
        s = self.tls_server(implicit=False)
        with s.connect() as c:
            self.starttls(c)
            # RFC 3207 4.2: the EHLO before TLS is forgotten.
            self.assertEqual(c.cmd("MAIL FROM:<a@example.org>").code, 503)


class Robustness(TlsTestCase):
    """Hostile TLS clients cost bounded time and memory and leave other sessions alone."""

    def normal_session(self, s, msgid):
        with s.connect() as c:
            c.greet_ehlo()
            self.assertEqual(c.cmd("MAIL FROM:<a@example.org>").code, 250)
            self.assertEqual(c.cmd("RCPT TO:<b@example.net>").code, 250)
            self.assertEqual(c.cmd("DATA").code, 354)
            c.send(e2e.dot_stuff(message(msgid)))
            self.assertEqual(c.reply().code, 250)
            self.assertEqual(c.cmd("QUIT").code, 221)

    def test_plaintext_on_the_tls_port_is_closed(self):
        s = self.tls_server()
        with s.connect() as other:  # an open session on the plain port
            other.greet_ehlo()
            with socket.create_connection(("127.0.0.1", s.tls_port), timeout=e2e.IO_TIMEOUT) as bad:
                bad.sendall(b"EHLO c.test\r\nMAIL FROM:<a@example.org>\r\n")
                got = b""
                for _ in range(64):  # an alert at most, then EOF
                    try:
                        chunk = bad.recv(65536)
                    except ConnectionResetError:
                        break
                    if not chunk:
                        break
                    got += chunk
                self.assertNotIn(b"250", got)
                self.assertNotIn(b"220", got)
            self.assertEqual(other.cmd("NOOP").code, 250)
        self.normal_session(s, "<after-plaintext@test>")

    def test_garbage_after_starttls_is_closed(self):
        s = self.tls_server(implicit=False)
        with s.connect() as c:
            c.greet_ehlo()
            self.assertEqual(c.cmd("STARTTLS").code, 220)
            c.send(b"\x16\x03\x01\x00\x05hello" + b"\x00" * 100)
            self.assertTrue(c.closed())
        self.normal_session(s, "<after-garbage@test>")

    def test_stalled_handshake_times_out_without_disturbing_others(self):
        s = self.tls_server(tls_handshake_timeout=1)
        stalled = []
        try:
            for _ in range(20):  # a half ClientHello each, then silence
                k = socket.create_connection(("127.0.0.1", s.tls_port), timeout=e2e.IO_TIMEOUT)
                stalled.append(k)
                k.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
            self.normal_session(s, "<beside-stalled@test>")
            for k in stalled:  # closed by the server at the handshake timeout
                self.assertEqual(k.recv(65536), b"")
        finally:
            for k in stalled:
                k.close()
        self.wait_stored(s, 1)
        self.normal_session(s, "<after-stalled@test>")


class BadCertificate(TlsTestCase):
    def start_bad(self, cfg):
        srv = e2e.Server(self.tmp, config=cfg)
        self.addCleanup(srv.kill)
        with self.assertRaises(AssertionError):
            srv.start()
        rc = srv.wait(e2e.STOP_TIMEOUT)
        return rc, srv.stderr()

    def test_missing_certificate_exits_2_with_one_line(self):
        rc, err = self.start_bad({"tls_crt": os.path.join(self.tmp, "nope.crt"), "tls_key": self.key})
        self.assertEqual(rc, 2)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("tls_crt", err)

    def test_garbage_certificate_exits_2(self):
        bad = os.path.join(self.tmp, "bad.crt")
        with open(bad, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
        rc, err = self.start_bad({"tls_crt": bad, "tls_key": self.key})
        self.assertEqual(rc, 2)
        self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_mismatched_key_exits_2(self):
        rc, err = self.start_bad({"tls_crt": self.crt, "tls_key": self.key2})
        self.assertEqual(rc, 2)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("tls_key", err)


class RealClients(TlsTestCase):
    def test_swaks_starttls_and_tls_on_connect(self):
        if not shutil.which("swaks"):
            self.skipTest("swaks not installed")
        s = self.tls_server()
        base = ["swaks", "--server", "127.0.0.1", "--from", "a@example.org", "--to", "b@example.net",
                "--timeout", "30"]
        r = self.run_tool(base + ["--port", str(s.port), "--tls"])
        self.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())
        self.assertIn(b"<-  220 2.0.0 Ready to start TLS", r.stdout)  # plaintext, then TLS
        self.assertIn(b"=== TLS started", r.stdout)
        self.assertIn(b"<~  250 2.0.0 OK", r.stdout)
        r = self.run_tool(base + ["--port", str(s.tls_port), "--tlsc"])
        self.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())
        self.assertIn(b"=== TLS started", r.stdout)
        self.assertIn(b"<~  220 ", r.stdout)  # the greeting inside TLS
        self.wait_stored(s, 2)

    def test_curl_smtps_and_ssl_reqd(self):
        if not shutil.which("curl"):
            self.skipTest("curl not installed")
        s = self.tls_server()
        msgfile = os.path.join(self.tmp, "msg.eml")
        for i, url in enumerate(["smtps://127.0.0.1:%d" % s.tls_port, "smtp://127.0.0.1:%d" % s.port]):
            with open(msgfile, "wb") as f:
                f.write(message("<curl-%d@test>" % i))
            args = ["curl", "-sS", "-k", "--max-time", "30", "--url", url, "--mail-from", "a@example.org",
                    "--mail-rcpt", "b@example.net", "--upload-file", msgfile]
            if url.startswith("smtp:"):
                args.append("--ssl-reqd")
            r = self.run_tool(args)
            self.assertEqual(r.returncode, 0, url + ": " + r.stderr.decode())
        self.wait_stored(s, 2)
        self.assertEqual(sorted(e2e.stored_messages(s.maildir, "a@example.org")), ["<curl-0@test>", "<curl-1@test>"])


def crypt_hash(password, setting):
    """A crypt(3) hash through Python's crypt module (libxcrypt), or None without it."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt
        except ImportError:
            return None
    h = crypt.crypt(password, setting)
    return h if h and not h.startswith("*") else None


class AuthPolicy(TlsTestCase):
    def write_users(self, lines):
        path = os.path.join(self.tmp, "users.txt")
        with open(path + ".new", "w") as f:
            f.write("".join(l + "\n" for l in lines))
        os.replace(path + ".new", path)
        return path

    def sha512(self, password):
        return subprocess.run(["openssl", "passwd", "-6", password], check=True, capture_output=True,
                              timeout=TOOL_TIMEOUT).stdout.decode().strip()

    def auth(self, c, user, password):
        raw = b"\0" + user.encode() + b"\0" + password.encode()
        return c.cmd("AUTH PLAIN " + __import__("base64").b64encode(raw).decode())

    def test_refused_before_tls_and_accepted_after_on_a_non_loopback_address(self):
        addr = non_loopback_address()
        if addr is None:
            self.skipTest("no non-loopback IPv4 address on this machine")
        users = self.write_users(["alice:" + self.sha512("secret")])
        s = self.tls_server(local="false", auth_users=users)
        with e2e.RawClient(s.port, host=addr) as c:
            exts = c.greet_ehlo()
            self.assertNotIn("AUTH PLAIN LOGIN", exts)
            r = self.auth(c, "alice", "secret")
            self.assertEqual((r.code, r.lines[0][:6]), (538, "5.7.11"))
            r = c.cmd("AUTH LOGIN")
            self.assertEqual(r.code, 538)
            self.assertEqual(c.cmd("STARTTLS").code, 220)
            c.sock = client_context().wrap_socket(c.sock, server_hostname="localhost")
            self.assertIn("AUTH PLAIN LOGIN", [l.upper() for l in c.cmd("EHLO c.test").lines])
            self.assertEqual(self.auth(c, "alice", "wrong").code, 535)
            self.assertEqual(self.auth(c, "alice", "secret").code, 235)
        with self.tls_client(s.tls_port, host=addr) as c:
            self.assertIn("AUTH PLAIN LOGIN", c.greet_ehlo())
            self.assertEqual(self.auth(c, "alice", "secret").code, 235)

    def test_loopback_may_authenticate_in_the_clear(self):
        s = self.tls_server()
        with s.connect() as c:
            self.assertIn("AUTH PLAIN LOGIN", c.greet_ehlo())
            self.assertEqual(self.auth(c, "anyone", "anything").code, 235)

    def test_auth_users_sha512_and_yescrypt_over_starttls(self):
        lines = ["# comment", "alice:" + self.sha512("secret")]
        yes = crypt_hash("yes-pw", "$y$j9T$abcdefghijklmnop")
        if yes:
            lines.append("bob:" + yes)
        s = self.tls_server(auth_users=self.write_users(lines))
        with smtplib.SMTP("127.0.0.1", s.port, timeout=e2e.IO_TIMEOUT) as c:
            c.starttls(context=client_context())
            with self.assertRaises(smtplib.SMTPAuthenticationError):
                c.login("alice", "wrong")
        with smtplib.SMTP("127.0.0.1", s.port, timeout=e2e.IO_TIMEOUT) as c:
            c.starttls(context=client_context())
            with self.assertRaises(smtplib.SMTPAuthenticationError):
                c.login("mallory", "secret")
        with smtplib.SMTP_SSL("127.0.0.1", s.tls_port, timeout=e2e.IO_TIMEOUT, context=client_context()) as c:
            c.login("alice", "secret")
            c.sendmail("a@example.org", ["b@example.net"], message("<auth@test>"))
        self.wait_stored(s, 1)
        if yes:
            with smtplib.SMTP_SSL("127.0.0.1", s.tls_port, timeout=e2e.IO_TIMEOUT, context=client_context()) as c:
                c.login("bob", "yes-pw")

    def test_auth_users_reread_on_sighup(self):
        users = self.write_users(["alice:" + self.sha512("secret")])
        s = self.tls_server(auth_users=users)
        self.write_users(["carol:" + self.sha512("new")])
        s.send_signal(signal.SIGHUP)
        self.assertTrue(e2e.poll(lambda: "auth_users reloaded (1 users)" in s.stderr(), e2e.IO_TIMEOUT), s.stderr())
        with smtplib.SMTP_SSL("127.0.0.1", s.tls_port, timeout=e2e.IO_TIMEOUT, context=client_context()) as c:
            c.login("carol", "new")
        with smtplib.SMTP_SSL("127.0.0.1", s.tls_port, timeout=e2e.IO_TIMEOUT, context=client_context()) as c:
            with self.assertRaises(smtplib.SMTPAuthenticationError):
                c.login("alice", "secret")

    def test_bad_auth_users_file_exits_2(self):
        srv = e2e.Server(self.tmp, config={"auth_users": os.path.join(self.tmp, "missing.txt")})
        self.addCleanup(srv.kill)
        with self.assertRaises(AssertionError):
            srv.start()
        self.assertEqual(srv.wait(e2e.STOP_TIMEOUT), 2)
        self.assertEqual(len(srv.stderr().strip().splitlines()), 1, srv.stderr())


class Reload(TlsTestCase):
    def install(self, crt, key):
        for src, dst in ((crt, "server.crt"), (key, "server.key")):
            shutil.copyfile(src, os.path.join(self.tmp, dst + ".new"))
            os.replace(os.path.join(self.tmp, dst + ".new"), os.path.join(self.tmp, dst))

    def peer_fingerprint(self, c):
        return fingerprint_of_der(c.sock.getpeercert(binary_form=True))

    def test_sighup_new_certificate_for_new_clients_old_connection_kept(self):
        self.install(self.crt, self.key)
        s = self.tls_server(tls_crt=os.path.join(self.tmp, "server.crt"), tls_key=os.path.join(self.tmp, "server.key"))
        fp_a, fp_b = fingerprint_of_file(self.crt), fingerprint_of_file(self.crt2)
        self.assertNotEqual(fp_a, fp_b)
        with self.tls_client(s.tls_port) as old:
            old.greet_ehlo()
            self.assertEqual(self.peer_fingerprint(old), fp_a)
            self.install(self.crt2, self.key2)
            s.send_signal(signal.SIGHUP)
            self.assertTrue(e2e.poll(lambda: "certificate reloaded, SHA256 " + fp_b in s.stderr(), e2e.IO_TIMEOUT),
                            s.stderr())
            with self.tls_client(s.tls_port) as new:
                self.assertEqual(new.reply().code, 220)
                self.assertEqual(self.peer_fingerprint(new), fp_b)
            with s.connect() as st:  # STARTTLS too
                self.starttls(st)
                self.assertEqual(self.peer_fingerprint(st), fp_b)
            self.assertEqual(old.cmd("NOOP").code, 250)  # the old connection lives on
            # A broken certificate at reload: one line, the current one stays.
            with open(os.path.join(self.tmp, "server.crt"), "w") as f:
                f.write("garbage\n")
            s.send_signal(signal.SIGHUP)
            self.assertTrue(e2e.poll(lambda: "keeping the old certificate" in s.stderr(), e2e.IO_TIMEOUT), s.stderr())
            with self.tls_client(s.tls_port) as new:
                self.assertEqual(new.reply().code, 220)
                self.assertEqual(self.peer_fingerprint(new), fp_b)
            self.assertEqual(old.cmd("QUIT").code, 221)
        self.assertTrue(s.running())
        self.assertEqual(s.stop(), 0)


if __name__ == "__main__":
    e2e.main()
