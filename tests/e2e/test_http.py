"""The HTTP API (issue 15): `ringmail serve` with handler = queue, driven with curl and
Python's urllib. Injection in KumoMTA's format (substitutions per recipient, delivered to the
aiosmtpd receiver of test_relay on 127.0.0.2), refusals that queue nothing (bad JSON, a bad
address, a body over the limit), the bearer token, the refusal to listen beyond loopback
without one, and the queue API against `ringmail queue ... --json`."""
import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
import http.client

import ringmail_e2e as e2e
from test_relay import Receiver, RelayTestCase, WAIT

CURL = "/usr/bin/curl"


class Http(RelayTestCase):
    def http_server(self, mx_port, token=None, **relay_keys):
        keys = {"mx_port": mx_port}
        keys.update(relay_keys)
        extra = {"http": {"token": token}} if token else {}
        s = self.relay(keys, **extra)
        self.assertIsNotNone(s.http_port, s.stderr())
        self.base = "http://127.0.0.1:%d" % s.http_port
        return s

    def call(self, method, path, body=None, token=None):
        """(status, parsed JSON body) through urllib."""
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=e2e.IO_TIMEOUT) as r:
                return r.status, json.loads(r.read()), r.headers
        except urllib.error.HTTPError as e:
            with e:
                return e.code, json.loads(e.read()), e.headers

    def curl(self, method, path, body=None, headers=()):
        """(status, body bytes) through curl."""
        out = os.path.join(self.tmp, "curl.out")
        args = [CURL, "-sS", "-o", out, "-w", "%{http_code}", "-X", method]
        for h in headers:
            args += ["-H", h]
        if body is not None:
            args += ["-H", "Content-Type: application/json", "--data-binary", "@-"]
        p = subprocess.run(args + [self.base + path], input=body, capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out, "rb") as f:
            return int(p.stdout), f.read()

    def cli_json(self, *args):
        p = self.queue(*args, "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def setUp(self):
        super().setUp()
        if not os.access(CURL, os.X_OK):
            self.skipTest("curl not installed")

    def test_inject_with_substitutions_delivers_one_message_per_recipient(self):
        rx = Receiver(self)
        s = self.http_server(rx.port)
        request = {
            "envelope_sender": "sender@[127.0.0.2]",
            "content": {"subject": "Hello {{ name }}", "from": {"email": "shop@example.org", "name": "The Shop"},
                        "text_body": "Dear {{name}}, your city is #city# ({{ planet }}).",
                        "headers": {"X-Order": "{{ order }}"}},
            "substitutions": {"planet": "Earth", "city": "nowhere"},
            "recipients": [
                {"email": "ann@[127.0.0.2]", "name": "Ann", "substitutions": {"name": "Ann", "city": "Oslo", "order": 1}},
                {"email": "bob@[127.0.0.2]", "substitutions": {"name": "Bob", "city": "Lima", "order": 2}},
                {"email": "cy@[127.0.0.2]", "substitutions": {"name": "Cy", "order": 3}},
            ],
        }
        code, body = self.curl("POST", "/api/inject/v1", json.dumps(request).encode())
        self.assertEqual(code, 200, body)
        answer = json.loads(body)
        self.assertEqual({k: answer[k] for k in ("success_count", "fail_count", "failed_recipients", "errors")},
                         {"success_count": 3, "fail_count": 0, "failed_recipients": [], "errors": []})
        self.assertEqual(len(answer["ids"]), 3)
        msgs = rx.wait_for(3)
        self.assertEqual(len(msgs), 3, s.stderr())
        by_rcpt = {m.split(b"\n", 1)[0].split(b" ")[2].decode(): m for m in msgs}
        self.assertEqual(sorted(by_rcpt), ["ann@[127.0.0.2]", "bob@[127.0.0.2]", "cy@[127.0.0.2]"])
        for rcpt, name, city, order in (("ann", "Ann", "Oslo", 1), ("bob", "Bob", "Lima", 2), ("cy", "Cy", "nowhere", 3)):
            m = by_rcpt[rcpt + "@[127.0.0.2]"]
            self.assertTrue(m.startswith(b"X-Envelope: sender@[127.0.0.2] %s@[127.0.0.2]\n" % rcpt.encode()), m)
            self.assertIn(b"Subject: Hello " + name.encode() + b"\r\n", m)
            self.assertIn(b"Dear %s, your city is %s (Earth)." % (name.encode(), city.encode()), m)
            self.assertIn(b"X-Order: %d\r\n" % order, m)
            self.assertIn(b'From: "The Shop" <shop@example.org>', m)
            others = {"Ann", "Bob", "Cy"} - {name}
            self.assertFalse(any(o.encode() in m for o in others), m)
        for qid in answer["ids"]:
            self.assertTrue(self.wait_status(qid, "sent"), self.status(qid))
        self.assert_stopped_cleanly(s)

    def test_string_content_without_substitutions_is_one_message(self):
        rx = Receiver(self)
        s = self.http_server(rx.port)
        status, answer, _ = self.call("POST", "/api/inject/v1", {
            "envelope_sender": "sender@[127.0.0.2]",
            "content": "Subject: plain\r\nMessage-ID: <plain@example.org>\r\n\r\nAs {{ given }}.\r\n",
            "recipients": [{"email": "r1@[127.0.0.2]"}, {"email": "r2@[127.0.0.2]"}]})
        self.assertEqual(status, 200, answer)
        self.assertEqual((answer["success_count"], len(answer["ids"])), (2, 1))
        [m] = rx.wait_for(1)
        self.assertTrue(m.startswith(b"X-Envelope: sender@[127.0.0.2] r1@[127.0.0.2],r2@[127.0.0.2]\n"), m)
        self.assertIn(b"As {{ given }}.", m)
        self.assert_stopped_cleanly(s)

    def test_refused_requests_queue_nothing(self):
        rx = Receiver(self)
        s = self.http_server(rx.port, max_message_size="2k")
        good = {"envelope_sender": "a@[127.0.0.2]", "content": "Subject: x\r\n\r\nx\r\n",
                "recipients": [{"email": "r1@[127.0.0.2]"}, {"email": "r2@[127.0.0.2]"}, {"email": "r3@[127.0.0.2]"}]}
        bad_address = dict(good, recipients=good["recipients"][:2] + [{"email": "not an address"}])
        too_big = dict(good, content="Subject: x\r\n\r\n" + "y" * 3000 + "\r\n")
        cases = [
            (b'{"envelope_sender": "a@[127.0.0.2]", "content": ', 400, "request: not valid JSON"),
            (b"[]", 400, "request: expected a JSON object"),
            (json.dumps(dict(good, recipients=[])).encode(), 400, "recipients: empty"),
            (json.dumps(dict(good, content=5)).encode(), 400, "content: expected a string or an object"),
            (json.dumps(bad_address).encode(), 400, "recipients[2].email: not an address: "),
            (json.dumps(too_big).encode(), 413, "content: the message is 3016 octets, over the queue's limit of 2048"),
        ]
        for body, want_code, want_error in cases:
            code, got = self.curl("POST", "/api/inject/v1", body)
            self.assertEqual(code, want_code, (body[:80], got))
            self.assertTrue(json.loads(got)["error"].startswith(want_error), got)
        # A body past 2 x max_message_size + 1 MiB is not even read in.
        status, answer, _ = self.call("POST", "/api/inject/v1", b"[" + b" " * (2 << 20) + b"]")
        self.assertEqual(status, 413, answer)
        self.assertIn("request body over", answer["error"])
        self.assertEqual(self.call("GET", "/api/queue")[1], [])
        self.assertEqual(self.cli_json("list"), [])
        self.assertEqual(rx.messages(), [])
        self.assert_stopped_cleanly(s)

    def test_token(self):
        rx = Receiver(self)
        s = self.http_server(rx.port, token="s3cret-token")
        for headers in ((), ("Authorization: Bearer wrong-token",), ("Authorization: Basic czNjcmV0LXRva2Vu",),
                        ("Authorization: Bearer s3cret-token-longer",)):
            code, body = self.curl("GET", "/api/queue", headers=headers)
            self.assertEqual(code, 401, (headers, body))
            self.assertIn("bearer token", json.loads(body)["error"])
        code, body = self.curl("POST", "/api/inject/v1", b'{"not": "read"}')  # refused before the body
        self.assertEqual(code, 401, body)
        status, answer, headers = self.call("GET", "/api/queue")
        self.assertEqual((status, headers["WWW-Authenticate"]), (401, 'Bearer realm="ringmail"'))
        code, body = self.curl("GET", "/api/queue", headers=("Authorization: Bearer s3cret-token",))
        self.assertEqual((code, json.loads(body)), (200, []))
        status, answer, _ = self.call("POST", "/api/inject/v1", {
            "envelope_sender": "a@[127.0.0.2]", "content": "Subject: t\r\n\r\nt\r\n",
            "recipients": [{"email": "r@[127.0.0.2]"}]}, token="s3cret-token")
        self.assertEqual((status, answer["success_count"]), (200, 1), answer)
        self.assertEqual(len(rx.wait_for(1)), 1)
        self.assert_stopped_cleanly(s)

    def test_listen_beyond_loopback_needs_a_token(self):
        config = os.path.join(self.tmp, "open.ini")
        e2e.write_config(config, {"port": 0, "handler": "queue", "relay": {"queue_dir": os.path.join(self.tmp, "q")},
                                  "http": {"listen": "0.0.0.0:0"}})
        for args in (["serve", "--config", config], ["serve", "--config", config, "--check"],
                     ["serve", "--config", os.path.join(self.tmp, "fresh.ini"), "--init", "--port", "0",
                      "--handler", "queue", "--http-listen", "[::]:0"]):
            p = subprocess.run([e2e.binary()] + args, capture_output=True, timeout=60, cwd=self.tmp)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn(b"beyond loopback without a token", p.stderr)
            self.assertNotIn(b"listening on", p.stderr)
        with open(config, "a") as f:
            f.write("token = t0ken\n")
        p = subprocess.run([e2e.binary(), "serve", "--config", config, "--check"], capture_output=True, timeout=60,
                           cwd=self.tmp)
        self.assertEqual(p.returncode, 0, p.stderr)
        for bad in ("localhost:8025", "127.0.0.1", "::1:8025", "[127.0.0.1]:80", "127.0.0.1:99999"):
            p = subprocess.run([e2e.binary(), "serve", "--config", config, "--check", "--http-listen", bad],
                               capture_output=True, timeout=60, cwd=self.tmp)
            self.assertEqual(p.returncode, 2, (bad, p.stderr))
            self.assertIn(b"bad value for listen", p.stderr)

    def test_http_off_unless_handler_is_queue(self):
        s = self.server(handler="discard", config={"port": 0, "http": {"listen": "127.0.0.1:0"}})
        self.assertIsNone(s.http_port)
        self.assertIn("HTTP API off", s.stderr())
        self.assert_stopped_cleanly(s)

    def test_queue_api_is_the_command_lines_json(self):
        rx = Receiver(self)
        s = self.http_server(rx.port)
        inject = lambda rcpt, sender: self.call("POST", "/api/inject/v1", {
            "envelope_sender": sender, "content": "Subject: q\r\n\r\nq\r\n", "recipients": [{"email": rcpt}]})
        status, ok, _ = inject("fine@[127.0.0.2]", "a@[127.0.0.2]")
        self.assertEqual(status, 200, ok)
        status, refused, _ = inject("bad-rcpt@[127.0.0.2]", "")  # 550 at RCPT; no bounce for <>
        self.assertEqual(status, 200, refused)
        sent_id, error_id = ok["ids"][0], refused["ids"][0]
        self.assertTrue(self.wait_status(sent_id, "sent"))
        self.assertTrue(self.wait_status(error_id, "error"))
        for query, args in (("", ()), ("?status=sent", ("--status", "sent")), ("?status=error", ("--status", "error")),
                            ("?status=queued", ("--status", "queued"))):
            code, body = self.curl("GET", "/api/queue" + query)
            self.assertEqual(code, 200, body)
            self.assertEqual(json.loads(body), self.cli_json("list", *args), query)
        self.assertEqual([m["id"] for m in self.call("GET", "/api/queue?status=error")[1]], [error_id])
        for qid in (sent_id, error_id):
            code, body = self.curl("GET", "/api/queue/" + qid)
            self.assertEqual((code, json.loads(body)), (200, self.cli_json("show", qid)))
        status, answer, _ = self.call("GET", "/api/queue?status=lost")
        self.assertEqual(status, 400, answer)
        # Retry: the failed recipient is queued again and tried again (550 again: error).
        before = self.cli_json("show", error_id)["recipients"][0]["attempts"]
        status, retried, _ = self.call("POST", "/api/queue/%s/retry" % error_id)
        self.assertEqual(status, 200, retried)
        self.assertEqual((retried["id"], retried["recipients"][0]["status"]), (error_id, "queued"))
        self.assertTrue(e2e.poll(lambda: self.cli_json("show", error_id)["recipients"][0]["attempts"] > before
                                 and self.status(error_id) == "error", WAIT, 0.1))
        self.assertEqual(self.call("GET", "/api/queue/" + error_id)[1], self.cli_json("show", error_id))
        # Delete: gone for the API and the command line.
        code, body = self.curl("DELETE", "/api/queue/" + sent_id)
        self.assertEqual((code, json.loads(body)), (200, {"removed": sent_id}))
        self.assertNotEqual(self.queue("show", sent_id).returncode, 0)
        for method, path in (("GET", "/api/queue/" + sent_id), ("DELETE", "/api/queue/" + sent_id),
                             ("POST", "/api/queue/%s/retry" % sent_id), ("GET", "/api/queue/not-an-id"),
                             ("GET", "/api/nothing"), ("GET", "/index.html")):
            code, body = self.curl(method, path)
            self.assertEqual(code, 404, (method, path, body))
            self.assertIn("error", json.loads(body))
        for method, path, allowed in (("GET", "/api/inject/v1", "POST"), ("POST", "/api/queue", "GET"),
                                      ("POST", "/", "GET"), ("PUT", "/api/queue/" + error_id, "GET, DELETE"),
                                      ("GET", "/api/queue/%s/retry" % error_id, "POST")):
            status, answer, headers = self.call(method, path, b"{}" if method != "GET" else None)
            self.assertEqual((status, headers["Allow"]), (405, allowed), (method, path, answer))
            self.assertIn("not allowed", answer["error"])
        self.assertEqual([m["id"] for m in self.cli_json("list")], [error_id])
        self.assert_stopped_cleanly(s)

    def test_sigterm_with_a_connection_open(self):
        rx = Receiver(self)
        s = self.http_server(rx.port)
        conn = http.client.HTTPConnection("127.0.0.1", s.http_port, timeout=e2e.IO_TIMEOUT)
        self.addCleanup(conn.close)
        conn.request("GET", "/api/queue")  # HTTP/1.1: the connection stays open after it
        r = conn.getresponse()
        self.assertEqual((r.status, json.loads(r.read())), (200, []))
        self.assertEqual(s.stop(signal.SIGTERM), 0, s.stderr())
        self.assertIn("stopped", s.stderr())


if __name__ == "__main__":
    e2e.main()
