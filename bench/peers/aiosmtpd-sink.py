#!/usr/bin/python3
"""Accept-and-discard SMTP peer on aiosmtpd (Debian's python3-aiosmtpd), for bench/compare.

Usage: /usr/bin/python3 aiosmtpd-sink.py PORT
Prints "listening on 127.0.0.1:PORT" on stdout once bound. One process, the stock asyncio loop,
no AUTH, no STARTTLS, 200 MiB size limit; every message is answered 250 and dropped.
"""
import asyncio
import signal
import sys

from aiosmtpd.smtp import SMTP


class Discard:
    async def handle_DATA(self, server, session, envelope):
        return '250 OK'


async def main(port):
    loop = asyncio.get_running_loop()
    handler = Discard()
    # hostname given, so that no getfqdn() (a DNS lookup) runs per connection
    srv = await loop.create_server(
        lambda: SMTP(handler, hostname='peer.localhost', ident='aiosmtpd sink',
                     data_size_limit=200 * 1024 * 1024, decode_data=False,
                     enable_SMTPUTF8=True, auth_require_tls=False, timeout=600),
        host='127.0.0.1', port=port, backlog=4096)
    print('listening on 127.0.0.1:%d' % srv.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    srv.close()


if __name__ == '__main__':
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
