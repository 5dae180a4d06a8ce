#!/usr/bin/python3
"""Accept-and-discard SMTP peer on aiosmtpd that offers STARTTLS, for bench/tls_compare.sh.

Usage: /usr/bin/python3 aiosmtpd-starttls.py PORT CERT KEY
Prints "listening on 127.0.0.1:PORT" once bound; every message is answered 250 and dropped.
"""
import asyncio
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP


class Discard:
    async def handle_DATA(self, server, session, envelope):
        return '250 OK'


async def main(port, crt, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(crt, key)
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(
        lambda: SMTP(Discard(), hostname='peer.localhost', ident='aiosmtpd starttls',
                     data_size_limit=200 * 1024 * 1024, decode_data=False, tls_context=ctx,
                     require_starttls=False, auth_require_tls=False, timeout=600),
        host='127.0.0.1', port=port, backlog=4096)
    print('listening on 127.0.0.1:%d' % srv.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    srv.close()


if __name__ == '__main__':
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
