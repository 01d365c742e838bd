#!/usr/bin/env python3
"""DCE/RPC client peer built on impacket (pure Python, its own NTLM and Kerberos code). Run with the peers venv
python ($DCOM_PYTHON), after `eval "$(scripts/peers.sh env)"`.

Prints ONE JSON object on stdout; exit 0 when every call succeeded, 1 on a bind/call failure (the JSON has the
fault or status name), 2 on bad usage.

usage: impacket_client.py HOST CALL [CALL-ARGS...] [--port P] [--user U --password P --domain D]
                          [--auth ntlm|kerberos] [--level none|connect|integrity|privacy]
                          [--name FQDN] [--kdc IP] [--ccache PATH] [--fix-bind] [--bench N]
  HOST      address to connect to (e.g. 127.0.0.10, 127.0.0.20)
  --port    TCP port; default: ask the endpoint mapper on HOST:135 (needs an interface impacket knows)
  --auth    ntlm = NTLMSSP (auth type 10); kerberos = Kerberos inside SPNEGO (auth type 9, impacket's only
            Kerberos form), SPN host/<--name>
  --level   none (no auth trailer), connect, integrity, privacy
  Kerberos: impacket's own TGS-REQ lacks the authenticator checksum and both KDCs refuse it, so the script
            takes tickets from a ccache: --ccache PATH (must already hold host/<name>), or, with --password,
            it runs MIT kinit + kvno host/<name> into a temporary ccache itself.
  --fix-bind  patch impacket's MSRPCBind.getData(), which repeats the p_cont_list in the third-leg
            alter_context of Kerberos (Samba answers nca_s_proto_error; Windows tolerates it). Off by default:
            our server should tolerate real impacket.

CALL:
  samr                 hSamrConnect, hSamrEnumerateDomainsInSamServer, hSamrLookupDomainInSamServer, close
  mgmt                 inq_if_ids, is_server_listening, inq_stats, inq_princ_name (each reported)
  echo [--value N]     rpcecho AddOne (opnum 0) and EchoData (opnum 1) with raw NDR stubs
  raw UUID VER OPNUM HEXSTUB   any interface; prints the response stub as hex
--bench N              after binding, time N sequential calls of the CALL's main operation
"""
import argparse
import binascii
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

from impacket import nt_errors
from impacket.dcerpc.v5 import epm, mgmt, rpcrt, samr, transport
from impacket.dcerpc.v5.rpcrt import (DCERPCException, RPC_C_AUTHN_GSS_NEGOTIATE, RPC_C_AUTHN_LEVEL_CONNECT,
                                      RPC_C_AUTHN_LEVEL_NONE, RPC_C_AUTHN_LEVEL_PKT_INTEGRITY,
                                      RPC_C_AUTHN_LEVEL_PKT_PRIVACY, RPC_C_AUTHN_WINNT)
from impacket.uuid import uuidtup_to_bin

LEVELS = {"none": RPC_C_AUTHN_LEVEL_NONE, "connect": RPC_C_AUTHN_LEVEL_CONNECT,
          "integrity": RPC_C_AUTHN_LEVEL_PKT_INTEGRITY, "privacy": RPC_C_AUTHN_LEVEL_PKT_PRIVACY}
ECHO_UUID = ("60a15ec5-4de8-11d7-a637-005056a20182", "1.0")
FAULT_CODES = {v: k for k, v in rpcrt.rpc_status_codes.items()}


class Usage(Exception):
    pass


def error_json(e, stage):
    if isinstance(e, DCERPCException):
        code = e.get_error_code()
        if isinstance(code, int):
            code &= 0xFFFFFFFF
            name = nt_errors.ERROR_MESSAGES.get(code, ("0x%08x" % code,))[0]
            return {"stage": stage, "kind": "status", "code": code, "hex": "0x%08x" % code, "name": name,
                    "message": str(e)}
        # faults arrive as a bare name (e.g. nca_s_op_rng_error, rpc_s_access_denied)
        text = e.error_string if isinstance(e.error_string, str) else str(e)
        fcode = FAULT_CODES.get(text)
        return {"stage": stage, "kind": "fault" if fcode is not None else "exception", "code": fcode,
                "hex": "0x%08x" % fcode if fcode is not None else None, "name": text, "message": str(e)}
    return {"stage": stage, "kind": "exception", "code": None, "hex": None, "name": type(e).__name__,
            "message": str(e)}


def iface_of(a):
    if a.call == "samr":
        return samr.MSRPC_UUID_SAMR
    if a.call == "mgmt":
        return mgmt.MSRPC_UUID_MGMT
    if a.call == "echo":
        return uuidtup_to_bin(ECHO_UUID)
    return uuidtup_to_bin((a.raw_uuid, a.raw_version))


def fix_bind():
    """impacket <= 0.13.1: MSRPCBind.getData() appends the context items again on every call."""
    def get_data(self):
        self["ctx_num"] = len(self.getCtxItems())
        self["ctx_items"] = b"".join(i.getData() for i in self.getCtxItems())
        return rpcrt.Structure.getData(self)
    rpcrt.MSRPCBind.getData = get_data


def get_ccache(a, tmp):
    """A ccache holding host/<name>: the given one, or kinit + kvno (MIT tools, KRB5_CONFIG) into tmp."""
    if a.ccache:
        return a.ccache
    if not a.password:
        raise Usage("--auth kerberos needs --ccache or --password")
    cc = os.path.join(tmp, "ccache")
    env = dict(os.environ, KRB5CCNAME="FILE:" + cc)
    k = subprocess.run(["kinit", "%s@%s" % (a.user, a.realm)], input=a.password + "\n", env=env,
                       capture_output=True, text=True, timeout=60)
    if k.returncode != 0:
        raise RuntimeError("kinit failed: " + (k.stderr or k.stdout).strip())
    v = subprocess.run(["kvno", "host/" + a.name], env=env, capture_output=True, text=True, timeout=60)
    if v.returncode != 0:
        raise RuntimeError("kvno host/%s failed: %s" % (a.name, (v.stderr or v.stdout).strip()))
    return cc


def connect(a, tmp):
    iface = iface_of(a)
    if a.port:
        binding = "ncacn_ip_tcp:%s[%d]" % (a.host, a.port)
    else:
        binding = epm.hept_map(a.host, iface, protocol="ncacn_ip_tcp")
    t = transport.DCERPCTransportFactory(binding)
    t.set_connect_timeout(a.timeout)
    if a.level != "none":
        if a.auth == "kerberos":
            os.environ["KRB5CCNAME"] = get_ccache(a, tmp)   # impacket wants a plain path
            t.set_credentials(a.user, "", a.realm, "", "", None)
            t.set_kerberos(True, a.kdc)
            t.setRemoteName(a.name)
            t.setRemoteHost(a.host)
        else:
            t.set_credentials(a.user, a.password, a.domain, "", "", None)
    dce = t.get_dce_rpc()
    if a.level != "none":
        dce.set_auth_type(RPC_C_AUTHN_GSS_NEGOTIATE if a.auth == "kerberos" else RPC_C_AUTHN_WINNT)
        dce.set_auth_level(LEVELS[a.level])
    dce.connect()
    dce.bind(iface)
    return dce, binding


def raw_call(dce, opnum, stub):
    dce.call(opnum, stub)
    return dce.recv()


def run_call(a, dce):
    res, errs = {}, []

    def one(name, fn):
        try:
            res[name] = fn()
        except Exception as e:  # record and go on
            errs.append(error_json(e, "call:" + name))
            res[name] = None

    if a.call == "samr":
        try:
            h = samr.hSamrConnect(dce)["ServerHandle"]
        except Exception as e:
            return res, [error_json(e, "call:SamrConnect")]
        res["SamrConnect"] = True
        names = []

        def enum():
            r = samr.hSamrEnumerateDomainsInSamServer(dce, h)
            names.extend(d["Name"] for d in r["Buffer"]["Buffer"])
            return {"names": list(names)}

        one("SamrEnumerateDomainsInSamServer", enum)
        lookups = {}
        for n in names:
            try:
                lookups[n] = samr.hSamrLookupDomainInSamServer(dce, h, n)["DomainId"].formatCanonical()
            except Exception as e:
                errs.append(error_json(e, "call:SamrLookupDomainInSamServer(%s)" % n))
        res["SamrLookupDomainInSamServer"] = lookups
        one("SamrCloseHandle", lambda: samr.hSamrCloseHandle(dce, h)["ErrorCode"])
    elif a.call == "mgmt":
        # raw stubs ([C706 Appendix Q] mgmt IDL): impacket's own mgmt structures misread some replies
        # (is_server_listening has no result field there)
        def if_ids():
            out = raw_call(dce, 0, b"")
            return dict(decode_if_ids(out), response_stub=out.hex())

        def stats():
            out = raw_call(dce, 1, struct.pack("<I", 4))
            return dict(decode_stats(out), response_stub=out.hex())

        def listening():
            out = raw_call(dce, 2, b"")
            status, result = struct.unpack_from("<II", out)
            return {"status": status, "result": result, "response_stub": out.hex()}

        def princ():
            out = raw_call(dce, 4, struct.pack("<II", a.authn_proto, 256))
            return dict(decode_princ_name(out), authn_proto=a.authn_proto, response_stub=out.hex())

        one("inq_if_ids", if_ids)
        one("is_server_listening", listening)
        one("inq_stats", stats)
        one("inq_princ_name", princ)
    elif a.call == "echo":
        def add_one():
            out = raw_call(dce, 0, struct.pack("<I", a.value))
            return {"in": a.value, "out": struct.unpack_from("<I", out)[0], "response_stub": out.hex()}

        def echo_data():
            data = binascii.unhexlify(a.data)
            # [in] uint32 len; [in,size_is(len)] uint8 in_data[]: conformant array = max_count + bytes
            stub = struct.pack("<II", len(data), len(data)) + data
            out = raw_call(dce, 1, stub)
            n = struct.unpack_from("<I", out)[0]
            return {"in": a.data, "out": out[4:4 + n].hex(), "response_stub": out.hex()}

        one("AddOne", add_one)
        one("EchoData", echo_data)
    else:
        one("raw", lambda: {"opnum": a.raw_opnum, "response_stub": raw_call(dce, a.raw_opnum, a.raw_stub).hex()})
    return res, errs


class Reader:
    def __init__(self, data):
        self.d, self.o = data, 0

    def u32(self):
        self.o = (self.o + 3) // 4 * 4
        if self.o + 4 > len(self.d):
            raise ValueError("reply too short at offset %d" % self.o)
        v = struct.unpack_from("<I", self.d, self.o)[0]
        self.o += 4
        return v

    def take(self, n):
        if n > len(self.d) - self.o:
            raise ValueError("reply too short for %d bytes at offset %d" % (n, self.o))
        b = self.d[self.o:self.o + n]
        self.o += n
        return b


def decode_if_ids(stub):
    """rpc_if_id_vector_p_t (unique pointer to count + conformant array of pointers to rpc_if_id_t), status."""
    r = Reader(stub)
    ids = []
    if r.u32():
        count = r.u32()
        max_count = r.u32()
        if count > max_count or max_count * 4 > len(stub):
            raise ValueError("bad if_id vector count %d/%d" % (count, max_count))
        ptrs = [r.u32() for _ in range(max_count)]
        for p in ptrs:
            if not p:
                continue
            raw = r.take(20)
            u = _uuid_str(raw[:16])
            major, minor = struct.unpack("<HH", raw[16:])
            ids.append({"uuid": u, "version": "%d.%d" % (major, minor)})
    return {"if_ids": ids, "status": r.u32()}


def decode_stats(stub):
    r = Reader(stub)
    count = r.u32()
    max_count = r.u32()
    if max_count * 4 > len(stub):
        raise ValueError("bad statistics count %d" % max_count)
    values = [r.u32() for _ in range(max_count)]
    return {"count": count, "statistics": values, "status": r.u32()}


def decode_princ_name(stub):
    r = Reader(stub)
    r.u32()  # max_count
    offset, actual = r.u32(), r.u32()
    name = r.take(actual).split(b"\0", 1)[0].decode(errors="replace")
    return {"name": name, "offset": offset, "status": r.u32()}


def bench_op(a, dce):
    if a.call == "samr":
        def connect_close():
            h = samr.hSamrConnect(dce)["ServerHandle"]
            samr.hSamrCloseHandle(dce, h)
        return connect_close
    if a.call == "mgmt":
        return lambda: raw_call(dce, 2, b"")
    if a.call == "echo":
        stub = struct.pack("<I", a.value)
        return lambda: raw_call(dce, 0, stub)
    return lambda: raw_call(dce, a.raw_opnum, a.raw_stub)


def _uuid_str(b):
    from impacket.uuid import bin_to_string
    return bin_to_string(b).lower()


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("host")
    ap.add_argument("call", choices=["samr", "mgmt", "echo", "raw"])
    ap.add_argument("call_args", nargs="*")
    ap.add_argument("--port", type=int)
    ap.add_argument("--user", default="alice")
    ap.add_argument("--password", default="Passw0rd!Alice")
    ap.add_argument("--domain", default="SAMBA")
    ap.add_argument("--realm", default="SAMBA.TEST")
    ap.add_argument("--auth", default="ntlm", choices=["ntlm", "kerberos"])
    ap.add_argument("--level", default="integrity", choices=sorted(LEVELS))
    ap.add_argument("--name", help="FQDN for the SPN host/<name> (default dc1.samba.test or rpcsrv.samba.test)")
    ap.add_argument("--kdc", default=os.environ.get("SAMBA_DC_IP", "127.0.0.10"))
    ap.add_argument("--ccache")
    ap.add_argument("--authn-proto", type=int)
    ap.add_argument("--value", type=int, default=41)
    ap.add_argument("--data", default=binascii.hexlify(b"hello world").decode())
    ap.add_argument("--fix-bind", action="store_true")
    ap.add_argument("--bench", type=int, metavar="N")
    ap.add_argument("--timeout", type=int, default=30)
    a = ap.parse_args(argv)
    if a.name is None:
        a.name = {"127.0.0.10": "dc1.samba.test", "127.0.0.20": "rpcsrv.samba.test"}.get(a.host, a.host)
    if a.authn_proto is None:
        a.authn_proto = {"ntlm": 10, "kerberos": 9}[a.auth]
    if a.call == "raw":
        if len(a.call_args) != 4:
            raise Usage("raw needs UUID VER OPNUM HEXSTUB")
        a.raw_uuid = a.call_args[0]
        major, _, minor = a.call_args[1].partition(".")
        a.raw_version = "%d.%d" % (int(major), int(minor or 0))
        a.raw_opnum = int(a.call_args[2], 0)
        a.raw_stub = binascii.unhexlify(a.call_args[3])
    elif a.call_args:
        raise Usage("%s takes no arguments" % a.call)
    if a.bench is not None and a.bench < 0:
        raise Usage("--bench must be positive")
    return a


def main(argv):
    try:
        a = parse_args(argv)
    except (Usage, ValueError, binascii.Error) as e:
        print(json.dumps({"ok": False, "error": {"stage": "usage", "kind": "usage", "message": str(e)}}))
        return 2
    if a.fix_bind:
        fix_bind()
    out = {"peer": "impacket", "host": a.host, "call": a.call,
           "auth": {"type": a.auth, "level": a.level, "user": a.user, "domain": a.domain, "name": a.name}}
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="impacket-client-") as tmp:
        try:
            dce, binding = connect(a, tmp)
        except Usage as e:
            print(json.dumps({"ok": False, "error": {"stage": "usage", "kind": "usage", "message": str(e)}}))
            return 2
        except Exception as e:
            out.update(ok=False, error=error_json(e, "bind"))
            print(json.dumps(out))
            return 1
        out["binding"] = binding
        out["connect_s"] = time.monotonic() - t0
        if a.bench is not None:
            op = bench_op(a, dce)
            t1 = time.monotonic()
            try:
                for _ in range(a.bench):
                    op()
            except Exception as e:
                out.update(ok=False, error=error_json(e, "bench"))
                print(json.dumps(out))
                return 1
            dt = time.monotonic() - t1
            out["bench"] = {"mode": "sequential", "connections": 1, "calls": a.bench, "seconds": dt,
                            "calls_per_s": a.bench / dt if dt > 0 else None}
            out["ok"] = True
        else:
            res, errs = run_call(a, dce)
            out["result"] = res
            out["ok"] = not errs
            if errs:
                out["error"] = errs[0]
                out["errors"] = errs
        try:
            dce.disconnect()
        except Exception:
            pass
    out["elapsed_s"] = time.monotonic() - t0
    print(json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
