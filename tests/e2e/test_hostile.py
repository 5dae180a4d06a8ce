"""Attacks of issue 13 against the real server, each asserting the bound that holds it:
what one client can make the server hold, and how long it can hold on."""
import os
import socket
import time

import ringmail_e2e as e2e


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


TX = b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nSubject: x\r\n\r\nx\r\n.\r\n"


class ReplyFlood(e2e.ServerTestCase):
    def test_client_that_never_reads_its_replies_is_bounded_and_closed(self):
        # Whole transactions pipelined (accepted ones, so no error or junk limit ends the
        # session), never a byte read back. Before the bound the server buffered every reply
        # (1.6 GB in 3.8 s); now it stops reading past a few KiB of unsent replies, and
        # closes the client once the idle limit passes.
        s = self.server(handler="discard", config={"timeout_command": 3})
        before = rss_kib(s.pid)
        c = socket.create_connection(("127.0.0.1", s.port), timeout=e2e.IO_TIMEOUT)
        self.addCleanup(c.close)
        c.recv(512)  # the greeting; nothing else is ever read
        c.setblocking(False)
        c.send(b"EHLO flood.example\r\n")
        chunk = TX * 1000  # 61 KB, 4,000 replies
        sent, stalled_since, start = 0, None, time.monotonic()
        # Bounded: at most 256 MB or 8 s of trying; it stops much earlier once the kernel's
        # buffers are full and the server reads no more.
        while sent < 256 << 20 and time.monotonic() - start < 8:
            try:
                sent += c.send(chunk)
                stalled_since = None
            except BlockingIOError:
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since > 1.0:
                    break
                time.sleep(0.01)
        grown = rss_kib(s.pid) - before
        self.assertLess(grown, 16 * 1024, "server grew %d KiB after %d bytes of commands" % (grown, sent))
        self.assertLess(sent, 256 << 20, "the server kept reading")
        # The client reads nothing, so the idle limit (3 s) ends it: the socket is reset.
        closed = False
        deadline = time.monotonic() + 30
        while not closed and time.monotonic() < deadline:
            try:
                c.send(b"NOOP\r\n")
            except BlockingIOError:
                pass
            except (ConnectionResetError, BrokenPipeError):
                closed = True
            time.sleep(0.2)
        self.assertTrue(closed, "a silent non-reading client outlived the idle limit")
        self.assert_stopped_cleanly(s)

    def test_pipelined_replies_all_arrive_to_a_client_that_reads(self):
        # The bound pauses reading; it loses nothing: 5,000 pipelined transactions, 20,000
        # replies, in order.
        s = self.server(handler="discard")
        with s.connect() as c:
            self.assertEqual(c.reply().code, 220)
            self.assertEqual(c.cmd("EHLO reader.example").code, 250)
            n = 20000
            payload = TX * (n // 4)
            c.sock.setblocking(True)
            got = b""
            view = memoryview(payload)
            c.sock.setblocking(False)
            while view or got.count(b"\r\n") < n:
                if view:
                    try:
                        k = c.sock.send(view[:65536])
                        view = view[k:]
                    except BlockingIOError:
                        pass
                try:
                    data = c.sock.recv(1 << 16)
                    self.assertTrue(data, "closed after %d replies" % got.count(b"\r\n"))
                    got += data
                except BlockingIOError:
                    time.sleep(0.001)
            lines = got.split(b"\r\n")[:n]
            self.assertEqual(len(lines), n)
            codes = [l[:3] for l in lines]
            self.assertEqual(codes, [b"250", b"250", b"354", b"250"] * (n // 4))
        self.assert_stopped_cleanly(s)


if __name__ == "__main__":
    e2e.main()
