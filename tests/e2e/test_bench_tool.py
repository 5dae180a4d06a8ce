# tests/e2e/test_bench_tool.py — ringmail-bench (bench/loadgen/) against a `ringmail serve
# --handler discard` on a free loopback port: small bounded loads in lock-step, pipelined,
# BDAT and open-loop modes; the --json counts must add up and every message get 250.
# No assertions on time. The generator comes in through RINGMAIL_BENCH.
import json
import os
import socket
import subprocess
import unittest

import ringmail_e2e as e2e

BENCH = os.environ.get("RINGMAIL_BENCH", "")
RUN_TIMEOUT = 120.0  # seconds per generator run; the loads below take well under one


def bench_binary():
    if not BENCH or not os.access(BENCH, os.X_OK):
        raise unittest.SkipTest("set RINGMAIL_BENCH to the built ringmail-bench binary")
    return BENCH


class BenchTool(e2e.ServerTestCase):
    def setUp(self):
        super().setUp()
        bench_binary()

    def run_bench(self, port, *args):
        """Runs ringmail-bench --json against `port`; returns (exit status, parsed JSON)."""
        p = subprocess.run([bench_binary(), "--port", str(port), "--json", *args], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=RUN_TIMEOUT)
        try:
            out = json.loads(p.stdout)
        except ValueError:
            self.fail("no JSON from ringmail-bench (rc %d): %r %r" % (p.returncode, p.stdout, p.stderr))
        return p.returncode, out

    def assert_all_ok(self, rc, out, messages=None):
        self.assertEqual(out["errors"], {}, out)
        self.assertEqual(out["messages_failed"], 0, out)
        self.assertEqual(out["messages_unsent"], 0, out)
        self.assertEqual(out["connection_errors"], 0, out)
        self.assertEqual(out["messages_sent"], out["messages_ok"] + out["messages_failed"], out)
        self.assertEqual(out["latency_us"]["count"], out["messages_sent"], out)
        self.assertGreater(out["messages_ok"], 0, out)
        if messages is not None:
            self.assertEqual(out["messages_ok"], messages, out)
        self.assertEqual(rc, 0, out)
        lat = out["latency_us"]
        self.assertLessEqual(lat["p50"], lat["p99"])
        self.assertLessEqual(lat["p99"], lat["max"])

    def test_starttls_sessions(self):
        crt, key = os.path.join(self.tmp, "c.pem"), os.path.join(self.tmp, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                        "-days", "1", "-keyout", key, "-out", crt], check=True, capture_output=True, timeout=60)
        s = self.server(handler="discard", config={"tls_crt": crt, "tls_key": key})
        rc, out = self.run_bench(s.port, "--messages", "120", "--connections", "4", "--starttls",
                                 "--transactions-per-connection", "10", "--pipelining")
        self.assert_all_ok(rc, out, 120)
        # Every session upgraded: one full handshake per session.
        self.assertEqual(out["tls_handshakes"], out["sessions"], out)
        self.assertGreaterEqual(out["sessions"], 12, out)
        self.assert_stopped_cleanly(s)

    def test_lock_step_data(self):
        s = self.server(handler="discard")
        rc, out = self.run_bench(s.port, "--messages", "500", "--connections", "10")
        self.assert_all_ok(rc, out, 500)
        self.assertEqual(out["bytes_ok"], 500 * 1024)
        self.assertEqual(out["connections_opened"], 10)
        self.assert_stopped_cleanly(s)

    def test_pipelining(self):
        s = self.server(handler="discard")
        rc, out = self.run_bench(s.port, "--messages", "500", "--connections", "10", "--pipelining",
                                 "--recipients", "3")
        self.assert_all_ok(rc, out, 500)
        self.assertEqual(out["sessions_with_pipelining"], out["sessions"])
        self.assert_stopped_cleanly(s)

    def test_bdat(self):
        s = self.server(handler="discard")
        rc, out = self.run_bench(s.port, "--messages", "500", "--connections", "10", "--bdat",
                                 "--size-dist", "1k:3,20k:1,100:1")
        self.assert_all_ok(rc, out, 500)
        self.assertEqual(out["sessions_with_chunking"], out["sessions"])
        self.assert_stopped_cleanly(s)

    def test_bdat_pipelined_two_threads_reconnecting(self):
        s = self.server(handler="discard")
        rc, out = self.run_bench(s.port, "--messages", "500", "--connections", "10", "--bdat", "--pipelining",
                                 "--threads", "2", "--transactions-per-connection", "7")
        self.assert_all_ok(rc, out, 500)
        # At most 7 messages per session: at least ceil(500 / 7) sessions.
        self.assertGreaterEqual(out["connections_opened"], 72)
        self.assertEqual(out["sessions"], out["connections_opened"])
        self.assert_stopped_cleanly(s)

    def test_open_loop(self):
        s = self.server(handler="discard")
        rc, out = self.run_bench(s.port, "--rate", "200", "--duration", "2", "--connections", "10")
        self.assert_all_ok(rc, out)
        self.assertEqual(out["loop"], "open")
        self.assertLessEqual(out["messages_sent"], 401)  # the schedule bounds it, however fast
        self.assert_stopped_cleanly(s)

    def test_refused_port_fails_cleanly(self):
        with socket.socket() as sock:  # a port that nobody listens on any more
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        rc, out = self.run_bench(port, "--messages", "20", "--connections", "2")
        self.assertEqual(rc, 1, out)
        self.assertEqual(out["messages_ok"], 0)
        self.assertEqual(out["messages_unsent"], 20)
        self.assertGreater(out["errors"].get("connect", 0), 0, out)

    def test_usage_errors_exit_2(self):
        for args in (["--messages", "0"], ["--size", "12q"], ["--no-such-flag"], ["--connections", "0"]):
            p = subprocess.run([bench_binary(), *args], capture_output=True, timeout=RUN_TIMEOUT)
            self.assertEqual(p.returncode, 2, (args, p.stdout, p.stderr))


if __name__ == "__main__":
    e2e.main()
