#!/usr/bin/python3
"""bench/relay_compare.py — helpers for bench/relay_compare.sh (Debian's python3, std only).

  free-port HOST                  print a free TCP port on HOST (a loopback address)
  wait-count FILE N TIMEOUT       wait until smtp-sink -c, writing to FILE, has counted N
                                  messages; print the time.time() at which it saw the count
  count FILE                      print the message and session counts smtp-sink -c last
                                  wrote to FILE ("MESSAGES SESSIONS")

smtp-sink -c rewrites one counter line per event, separated by CR: "sess=S quit=Q mesg=M".
Only the end of the file is read, every 5 ms, so a long run costs the poller almost nothing
and the end time is at most 5 ms late. Exit 1 on timeout (with the last counter on stderr),
and also when the count goes past N (a message delivered twice).
"""
import os
import re
import socket
import sys
import time

COUNTER = re.compile(rb"sess=(\d+) quit=(\d+) mesg=(\d+)")


def free_port(host):
    with socket.socket() as s:
        s.bind((host, 0))
        print(s.getsockname()[1])


def last_count(path):
    """The message count of the last complete counter in the file (0 if none yet)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 256))
            tail = f.read()
    except FileNotFoundError:
        return 0, b""
    found = COUNTER.findall(tail)
    if not found:
        return 0, b""
    return int(found[-1][2]), b"sess=%s quit=%s mesg=%s" % found[-1]


def sessions(line):
    """The session count in a counter line from last_count (0 if none)."""
    m = COUNTER.fullmatch(line)
    return int(m.group(1)) if m else 0


def wait_count(path, want, timeout):
    deadline = time.monotonic() + timeout
    while True:
        n, line = last_count(path)
        if n >= want:
            now = time.time()
            if n > want:
                print(f"relay_compare: the sink counted {n} messages, expected {want}", file=sys.stderr)
                return 1
            print(f"{now:.6f}")
            return 0
        if time.monotonic() >= deadline:
            print(f"relay_compare: the sink counted {n} of {want} messages after {timeout} s "
                  f"(last counter: {line.decode()})", file=sys.stderr)
            return 1
        time.sleep(0.005)


def main(argv):
    if len(argv) == 3 and argv[1] == "free-port":
        free_port(argv[2])
        return 0
    if len(argv) == 3 and argv[1] == "count":
        n, line = last_count(argv[2])
        print(n, sessions(line))
        return 0
    if len(argv) == 5 and argv[1] == "wait-count":
        return wait_count(argv[2], int(argv[3]), float(argv[4]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
