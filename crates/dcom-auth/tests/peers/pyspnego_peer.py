#!/usr/bin/env python3
"""pyspnego as an independent peer of the dcom-auth tests, driven over stdin/stdout (one JSON object per line).

usage: pyspnego_peer.py client|server ntlm|kerberos|negotiate [--dce] [--user U] [--password P]
                        [--hostname H] [--service S]

Requests (hex strings for bytes):
  {"op": "step", "token": HEX|null}           -> {"token": HEX|null, "complete": bool}
  {"op": "info"}                              -> {"complete", "session_key", "client_principal", "protocol"}
  {"op": "wrap", "header": HEX, "body": HEX, "trailer": HEX, "sign_header": bool}
        DCE/RPC PKT_PRIVACY: wrap_iov([sign_only header], data body, [sign_only trailer], header)
                                              -> {"body": HEX, "signature": HEX}
  {"op": "unwrap", "header", "body", "trailer", "sign_header", "signature"} -> {"body": HEX}
  {"op": "sign", "data": HEX}                 -> {"signature": HEX}    (PKT_INTEGRITY, GSS_GetMIC)
  {"op": "verify", "data": HEX, "signature": HEX} -> {}
Any failure answers {"error": "..."}; the process ends at end of input.
Kerberos credentials come from the environment: KRB5_CONFIG, KRB5CCNAME (initiator), KRB5_KTNAME (acceptor);
NTLM acceptor accounts from NTLM_USER_FILE (DOMAIN:USER:PASSWORD lines).
"""
import argparse
import json
import sys

import spnego
from spnego.iov import BufferType


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=["client", "server"])
    ap.add_argument("protocol", choices=["ntlm", "kerberos", "negotiate"])
    ap.add_argument("--dce", action="store_true")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--hostname", default="unspecified")
    ap.add_argument("--service", default="host")
    a = ap.parse_args()

    req = spnego.ContextReq.default
    if a.dce:
        req |= spnego.ContextReq.dce_style
    kw = dict(hostname=a.hostname, service=a.service, protocol=a.protocol, context_req=req)
    if a.role == "client":
        ctx = spnego.client(username=a.user, password=a.password, **kw)
    else:
        ctx = spnego.server(**kw)

    def iov(m, with_header_buffer):
        bufs = []
        if m["sign_header"]:
            bufs.append((BufferType.sign_only, bytes.fromhex(m["header"])))
        bufs.append(bytes.fromhex(m["body"]))
        if m["sign_header"]:
            bufs.append((BufferType.sign_only, bytes.fromhex(m["trailer"])))
        if with_header_buffer is None:
            bufs.append(BufferType.header)
        else:
            bufs.append((BufferType.header, with_header_buffer))
        return bufs

    def data_index(m):
        return 1 if m["sign_header"] else 0

    for line in sys.stdin:
        m = json.loads(line)
        try:
            op = m["op"]
            if op == "step":
                tok = bytes.fromhex(m["token"]) if m.get("token") else None
                out = ctx.step(tok)
                r = {"token": out.hex() if out else None, "complete": ctx.complete}
            elif op == "info":
                r = {
                    "complete": ctx.complete,
                    "session_key": ctx.session_key.hex() if ctx.complete else None,
                    "client_principal": getattr(ctx, "client_principal", None),
                    "protocol": ctx.negotiated_protocol,
                }
            elif op == "wrap":
                res = ctx.wrap_iov(iov(m, None), encrypt=True)
                r = {"body": res.buffers[data_index(m)].data.hex(), "signature": res.buffers[-1].data.hex()}
            elif op == "unwrap":
                res = ctx.unwrap_iov(iov(m, bytes.fromhex(m["signature"])))
                r = {"body": res.buffers[data_index(m)].data.hex()}
            elif op == "sign":
                r = {"signature": ctx.sign(bytes.fromhex(m["data"])).hex()}
            elif op == "verify":
                ctx.verify(bytes.fromhex(m["data"]), bytes.fromhex(m["signature"]))
                r = {}
            else:
                r = {"error": "unknown op %s" % op}
        except Exception as e:  # report every failure to the Rust side
            r = {"error": "%s: %s" % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(r) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
