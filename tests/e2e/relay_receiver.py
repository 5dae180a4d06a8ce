"""A receiving MTA for the relay's tests (aiosmtpd, run by Debian's python3): listens on
HOST:PORT and stores each message as OUT/N.eml with an X-Envelope first line. Faults by
the recipient's local part:
  bad...        550 5.1.1 at RCPT
  tempfirst...  451 4.3.0 at RCPT the first time it is seen, then accepted
  drop...       the connection is dropped at the end of DATA the first time (no reply)
Each stored message's second line, X-Session: N, numbers the SMTP session it came in.
Runs until its stdin closes."""
import os
import sys

from aiosmtpd.controller import Controller

host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seen = set()
sessions = [0]


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local.startswith("bad"):
            return "550 5.1.1 No such user here"
        if local.startswith("tempfirst") and address not in seen:
            seen.add(address)
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        drops = [r for r in envelope.rcpt_tos if r.split("@")[0].startswith("drop") and ("drop", r) not in seen]
        if drops:
            for r in drops:
                seen.add(("drop", r))
            server.transport.close()
            return "451 never sent"
        if not hasattr(session, "number"):
            sessions[0] += 1
            session.number = sessions[0]
        name = os.path.join(out, "%06d.eml" % len(os.listdir(out)))
        with open(name + ".tmp", "wb") as f:
            f.write(("X-Envelope: %s %s\n" % (envelope.mail_from, ",".join(envelope.rcpt_tos))).encode())
            f.write(("X-Session: %d\n" % session.number).encode())
            f.write(envelope.original_content)
        os.rename(name + ".tmp", name)
        return "250 2.0.0 stored"


c = Controller(Handler(), hostname=host, port=port)
c.start()
print("PORT", port, flush=True)
sys.stdin.read()
c.stop()
