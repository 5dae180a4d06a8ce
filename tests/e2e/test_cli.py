# tests/e2e/test_cli.py — the command line: --help exits 0; a bad config value or a busy
# port gives one line on stderr naming the problem and exit status 2 (issue 2, items 5-6);
# a missing config file is written with the defaults.
import os
import signal
import socket
import subprocess

import ringmail_e2e as e2e

RUN_TIMEOUT = 30


class Cli(e2e.ServerTestCase):
    def run_ringmail(self, *args):
        # With a bug that makes it serve instead of failing, the timeout kills it.
        return subprocess.run([e2e.binary(), *args], cwd=self.tmp, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=RUN_TIMEOUT)

    def assert_one_line_exit_2(self, p, *words):
        err = p.stderr.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 2, err)
        self.assertEqual(len(err.splitlines()), 1, "want exactly one line: %r" % err)
        self.assertTrue(err.endswith("\n"), err)
        for w in words:
            self.assertIn(w, err)

    def test_help_exits_0(self):
        for args in (["--help"], ["serve", "--help"], ["-h"], ["serve", "-h"]):
            with self.subTest(args=args):
                p = self.run_ringmail(*args)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn(b"Usage", p.stdout + p.stderr)
        p = self.run_ringmail("serve", "--help")
        for flag in (b"--config", b"--port", b"--reactors", b"--handler"):
            self.assertIn(flag, p.stdout)

    def test_bad_config_value_exits_2_with_one_line(self):
        cases = [
            ("port", "70000"),
            ("port", "smtp"),
            ("local", "maybe"),
            ("reactors", "-1"),
            ("max_message_size", "10X"),
            ("max_message_size", "lots"),
            ("max_recipients", "0"),
            ("timeout_command", "5m"),
            ("handler", "mbox:/tmp/x"),
            ("no_such_key", "1"),
        ]
        for key, value in cases:
            with self.subTest(key=key, value=value):
                path = os.path.join(self.tmp, "bad-%s.ini" % key)
                e2e.write_config(path, {"port": 0, key: value} if key != "port" else {key: value})
                p = self.run_ringmail("serve", "--config", path)
                self.assert_one_line_exit_2(p, key)

    def test_config_sections(self):
        # Server keys may stand before any section or under [server]; [relay] and [http]
        # are known sections whose keys come with their layers; anything else is an error.
        path = os.path.join(self.tmp, "sections.ini")
        with open(path, "w") as f:
            f.write("local = true\n[server]\nmax_recipients = 7\n[relay]\n[http]\n")
        srv = e2e.Server(self.tmp, handler="discard", config=None)
        srv.config_path = path
        srv.start()
        self.addCleanup(srv.kill)
        with srv.connect() as c:
            self.assertEqual(c.reply().code, 220)
            c.send(b"EHLO x\r\nMAIL FROM:<a@b.c>\r\n")
            c.reply()
            c.reply()
            for i in range(8):
                c.send(b"RCPT TO:<r%d@b.c>\r\n" % i)
                # the eighth is past max_recipients = 7, set in [server]
                self.assertEqual(c.reply().code, 250 if i < 7 else 452)
        self.assert_stopped_cleanly(srv)
        for text, needle in [("[relay]\nsmarthost_colour = red\n", "in [relay]"),
                             ("[mail]\nport = 25\n", "unknown section"),
                             ("[server]\nno_such_key = 1\n", "no_such_key")]:
            with self.subTest(text=text):
                bad = os.path.join(self.tmp, "bad-section.ini")
                with open(bad, "w") as f:
                    f.write(text)
                p = self.run_ringmail("serve", "--config", bad)
                self.assert_one_line_exit_2(p, needle)

    def test_hostile_config_bytes_give_one_printable_line(self):
        # A terminal escape and a CR inside a value, a NUL byte, a later second error: the
        # message is one line of printable ASCII naming the first problem (and its line,
        # except for the handler, which is checked once the whole file is read).
        cases = [
            (b"port = 0\nhandler = \x1b[31mred\rX\n", b"handler", b"\\x1b[31mred\\x0dX", None),
            (b"port = 0\nhostname = a\x00b\n", b"NUL", None, 2),
            (b"port = 0\nlocal = maybe\nreactors = lots\n", b"local", None, 2),
        ]
        for text, word, shown, line in cases:
            with self.subTest(text=text):
                path = os.path.join(self.tmp, "hostile.ini")
                with open(path, "wb") as f:
                    f.write(text)
                p = self.run_ringmail("serve", "--config", path)
                self.assert_one_line_exit_2(p, word.decode())
                err = p.stderr if isinstance(p.stderr, bytes) else p.stderr.encode()
                self.assertTrue(all(0x20 <= b < 0x7f for b in err.rstrip(b"\n")), err)
                if line:
                    self.assertIn(b"hostile.ini:%d:" % line, err)
                if shown:
                    self.assertIn(shown, err)

    def test_bad_flag_value_exits_2_with_one_line(self):
        cfg = os.path.join(self.tmp, "mail.ini")
        for args, word in ((["--port", "99999"], "port"), (["--reactors", "lots"], "reactors"),
                           (["--handler", "nowhere"], "handler"), (["--handler", "maildir:"], "handler")):
            with self.subTest(args=args):
                p = self.run_ringmail("serve", "--config", cfg, "--init", *args)
                self.assert_one_line_exit_2(p, word)

    def test_unknown_flag_exits_2(self):
        p = self.run_ringmail("serve", "--no-such-flag")
        self.assert_one_line_exit_2(p)

    def test_busy_port_exits_2_with_one_line(self):
        # A port held by some other program...
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        cfg = os.path.join(self.tmp, "mail.ini")
        p = self.run_ringmail("serve", "--config", cfg, "--init", "--port", str(port), "--handler", "discard")
        self.assert_one_line_exit_2(p, str(port))

    def test_port_held_by_another_ringmail_exits_2(self):
        # ...and one held by a ringmail, whose SO_REUSEPORT listeners must not be shared.
        first = self.server(handler="discard")
        p = self.run_ringmail("serve", "--config", os.path.join(self.tmp, "other.ini"), "--init",
                              "--port", str(first.port), "--handler", "discard")
        self.assert_one_line_exit_2(p, str(first.port))
        self.assertTrue(first.running())
        with first.connect() as c:
            self.assertEqual(c.reply().code, 220)
        self.assert_stopped_cleanly(first)

    def test_missing_config_is_written_with_defaults(self):
        s = self.server(handler="discard")
        self.assertTrue(os.path.exists(s.config_path))
        with open(s.config_path) as f:
            text = f.read()
        for key in ("port", "local", "reactors", "handler", "max_message_size", "max_recipients",
                    "timeout_command", "timeout_data", "shutdown_grace"):
            self.assertIn(key, text)
        self.assert_stopped_cleanly(s)
        # The written file is valid as it stands.
        again = self.server(handler="discard")
        self.assert_stopped_cleanly(again)

    def test_mistyped_config_path_is_an_error_not_a_new_file(self):
        # Only the default mail.ini (or --init) is written when missing: a typo in --config
        # must not start a server with defaults the operator never chose.
        typo = os.path.join(self.tmp, "mial.ini")
        p = self.run_ringmail("serve", "--config", typo, "--port", "0")
        self.assert_one_line_exit_2(p, "mial.ini", "--init")
        self.assertFalse(os.path.exists(typo))

    def test_config_without_port_has_no_plain_listener(self):
        # As the original module documents: comment out `port` and the plain listener goes.
        # With nothing else to listen on that is an error; with tls_port it serves TLS only.
        path = os.path.join(self.tmp, "noport.ini")
        e2e.write_config(path, {"local": "true", "handler": "discard"})
        p = self.run_ringmail("serve", "--config", path)
        self.assert_one_line_exit_2(p, "nothing to listen on")
        key, crt = os.path.join(self.tmp, "k.pem"), os.path.join(self.tmp, "c.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                        "-days", "2", "-keyout", key, "-out", crt], check=True, capture_output=True)
        e2e.write_config(path, {"local": "true", "handler": "discard", "tls_port": "auto",
                                "tls_crt": crt, "tls_key": key})
        proc = subprocess.Popen([e2e.binary(), "serve", "--config", path], cwd=self.tmp,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        err = b""
        while b"listening for TLS" not in err:
            line = proc.stderr.readline()
            self.assertTrue(line, err)
            err += line
        self.assertIn(b"no plain listener", err)
        self.assertNotIn(b"listening on ", err)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=30), 0)

    def test_version_and_check(self):
        p = self.run_ringmail("--version")
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout, rb"^ringmail \d+\.\d+\.\d+")
        good = os.path.join(self.tmp, "good.ini")
        e2e.write_config(good, {"port": 0, "handler": "maildir:" + os.path.join(self.tmp, "md")})
        p = self.run_ringmail("serve", "--config", good, "--check")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"config OK", p.stdout)
        self.assertTrue(os.path.isdir(os.path.join(self.tmp, "md", "new")))
        bad = os.path.join(self.tmp, "badcert.ini")
        e2e.write_config(bad, {"port": 0, "tls_crt": os.path.join(self.tmp, "none.pem"),
                               "tls_key": os.path.join(self.tmp, "none.key")})
        p = self.run_ringmail("serve", "--config", bad, "--check")
        self.assert_one_line_exit_2(p, "none.pem")

    def test_set_overrides_any_key_and_names_a_bad_one(self):
        good = os.path.join(self.tmp, "set.ini")
        e2e.write_config(good, {"port": 0})
        p = self.run_ringmail("serve", "--config", good, "--check", "--set", "mime=on", "--set", "relay.retry_base=90s")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.run_ringmail("serve", "--config", good, "--check", "--set", "mime=sometimes")
        self.assert_one_line_exit_2(p, "mime")
        p = self.run_ringmail("serve", "--config", good, "--check", "--set", "relay.no_such_key=1")
        self.assert_one_line_exit_2(p, "no_such_key")
        p = self.run_ringmail("serve", "--config", good, "--check", "--set", "novalue")
        self.assert_one_line_exit_2(p, "KEY=VALUE")
    def test_sigusr1_does_not_stop_the_server(self):
        s = self.server(handler="discard")
        s.send_signal(signal.SIGUSR1)
        with s.connect() as c:  # answered after the signal: still serving
            self.assertEqual(c.reply().code, 220)
        self.assertTrue(e2e.poll(lambda: "SIGUSR1" in s.stderr(), e2e.IO_TIMEOUT), s.stderr())
        self.assertTrue(s.running())
        self.assert_stopped_cleanly(s)

    def test_immediate_restart_on_the_same_port(self):
        # Each run leaves closed connections behind (TIME_WAIT, FIN_WAIT); the next run
        # must bind the same port at once, every time.
        s = self.server(handler="discard")
        port = s.port
        s.extra_args = []
        for i in range(12):
            with s.connect() as c:
                self.assertEqual(c.reply().code, 220)
                c.send(b"QUIT\r\n")
                self.assertEqual(c.reply().code, 221)
            with s.connect() as c:  # and one the server closes with its 421 at shutdown
                self.assertEqual(c.reply().code, 220)
                self.assertEqual(s.stop(), 0, s.stderr())
            s.args = lambda: [e2e.binary(), "serve", "--config", s.config_path, "--init", "--port", str(port),
                              "--reactors", "2", "--handler", "discard"]
            s.start()
            self.assertEqual(s.port, port, "run %d" % i)
        self.assert_stopped_cleanly(s)

    def test_sigint_exits_0(self):
        s = self.server(handler="discard")
        self.assertEqual(s.stop(signal.SIGINT), 0, s.stderr())


if __name__ == "__main__":
    e2e.main()
