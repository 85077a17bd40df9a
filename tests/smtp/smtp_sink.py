"""A real SMTP server for Herald's tests: it accepts mail on 127.0.0.1 and stores it as files.

Each accepted message is written to <dir>/<n>.eml (its raw bytes, as received after DATA) with
its envelope in <dir>/<n>.envelope (a `MAIL FROM <address>` line, then one `RCPT TO <address>`
line per accepted recipient; plain lines so a test helper needs no JSON parser), n counting
from 1. The envelope is written first and the .eml is renamed into place, so a reader that sees
<n>.eml sees both files complete. Both are on disk
before the server answers 250, so a client whose send succeeded can read them at once.

Recipients whose local part is `reject` get 550 (permanent failure) and those whose local part
is `tempfail` get 451 (transient failure), so tests can check how a sender sorts the two.

Usage: smtp_sink.py --port PORT --dir DIR   (PORT 0 picks a free port)
Prints `READY <port>` on stdout once it accepts connections; exits on stdin EOF or SIGTERM, so
it never outlives the test that started it.
"""

import argparse
import os
import signal
import sys

from aiosmtpd.controller import Controller


class Sink:
    """The aiosmtpd handler: refuses the test addresses and files everything else."""

    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.rsplit("@", 1)[0].lower()
        if local == "reject":
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        if local == "tempfail":
            return "451 4.3.0 <%s>: try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        # aiosmtpd runs handlers on one event loop, so the counter needs no lock.
        self.count += 1
        base = os.path.join(self.directory, str(self.count))
        with open(base + ".envelope", "w", encoding="utf-8") as meta:
            meta.write("MAIL FROM %s\n" % envelope.mail_from)
            for recipient in envelope.rcpt_tos:
                meta.write("RCPT TO %s\n" % recipient)
        with open(base + ".eml.tmp", "wb") as raw:
            raw.write(envelope.original_content or envelope.content)
        os.replace(base + ".eml.tmp", base + ".eml")
        return "250 Message accepted for delivery"


class EphemeralController(Controller):
    """A Controller that can listen on port 0.

    The stock Controller checks it started by connecting to the port it was given, which for
    port 0 is not the one the kernel picked; this one connects to the real port instead.
    """

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--dir", required=True)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    # SIGTERM ends the process through the same `finally` as stdin EOF.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))

    controller = EphemeralController(Sink(args.dir), hostname="127.0.0.1", port=args.port)
    controller.start()
    try:
        print("READY %d" % controller.port, flush=True)
        # Blocks until the parent closes our stdin (or dies, which closes it too).
        sys.stdin.buffer.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
