"""Verify the DKIM signature of mail files with dkimpy, an implementation independent of ours.

    dkim_verify.py RECORD MESSAGE...

RECORD is the key record as it would be published in DNS (`v=DKIM1; k=rsa; p=...`); every
key lookup is answered with it, so nothing goes to the network. For each message one line:
`pass PATH a=... c=... h=...` or `fail PATH: why`. Exit status 0 when all pass, 1 otherwise,
2 when dkimpy (or PyNaCl, for Ed25519) is missing. Used by tests/api/dkim.rs.
"""

import io
import logging
import sys

try:
    import dkim
    import nacl.signing  # noqa: F401  (dkimpy verifies Ed25519 through it)
except ImportError as e:
    print(f"missing: {e} (pip install dkimpy pynacl)", file=sys.stderr)
    sys.exit(2)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    record = argv[1].encode()

    def dnsfunc(name, timeout=5):
        return record

    failed = False
    for path in argv[2:]:
        with open(path, "rb") as f:
            message = f.read()
        log = io.StringIO()
        logger = logging.getLogger(f"dkim_verify.{path}")
        logger.addHandler(logging.StreamHandler(log))
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        checker = dkim.DKIM(message, logger=logger)
        try:
            ok = checker.verify(dnsfunc=dnsfunc)
        except dkim.DKIMException as e:
            ok, why = False, str(e)
        else:
            why = log.getvalue().strip().replace("\n", " | ") or "signature did not verify"
        if ok:
            tags = checker.signature_fields
            shown = " ".join(
                f"{t}={''.join(tags[t.encode()].decode().split())}" for t in ("a", "c", "h") if t.encode() in tags
            )
            print(f"pass {path} {shown}")
        else:
            failed = True
            print(f"fail {path}: {why}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
