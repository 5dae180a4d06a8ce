#!/usr/bin/python3
"""Accept-and-discard SMTP peer on aiosmtpd (Debian's python3-aiosmtpd), for bench/compare_peers.sh and
bench/tls_compare.sh.

Usage: /usr/bin/python3 aiosmtpd-sink.py PORT [CERT KEY]
Prints "listening on 127.0.0.1:PORT" on stdout once bound. One process, the stock asyncio loop,
no AUTH, 200 MiB size limit; every message is answered 250 and dropped. With CERT and KEY (PEM)
it offers STARTTLS (TLS 1.2 and later), without requiring it.
"""
import asyncio
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP


class Discard:
    async def handle_DATA(self, server, session, envelope):
        return '250 OK'


async def main(port, crt=None, key=None):
    ctx = None
    if crt:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(crt, key)
    loop = asyncio.get_running_loop()
    handler = Discard()
    # hostname given, so that no getfqdn() (a DNS lookup) runs per connection
    srv = await loop.create_server(
        lambda: SMTP(handler, hostname='peer.localhost', ident='aiosmtpd sink',
                     data_size_limit=200 * 1024 * 1024, decode_data=False,
                     enable_SMTPUTF8=True, auth_require_tls=False, timeout=600,
                     tls_context=ctx, require_starttls=False),
        host='127.0.0.1', port=port, backlog=4096)
    print('listening on 127.0.0.1:%d' % srv.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    srv.close()


if __name__ == '__main__':
    args = sys.argv[1:]
    asyncio.run(main(int(args[0]) if args else 0, *args[1:3]))
