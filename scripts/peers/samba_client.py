#!/usr/bin/python3
"""DCE/RPC client peer built on Samba's own client library (python3-samba: source4 librpc + gensec).

Prints ONE JSON object on stdout; exit 0 when every call succeeded, 1 when a call or the connection failed
(the JSON says which, with the NTSTATUS/WERROR name), 2 on bad usage. Run with Debian's /usr/bin/python3 or the
peers venv (it sees python3-samba); source `scripts/peers.sh env` first (KRB5_CONFIG, SAMBA_CLIENT_CONF).

usage: samba_client.py BINDING CALL [CALL-ARGS...] [--user U --password P --domain D --realm R | --anon]
                       [--auth ntlm|spnego|krb5] [--level connect|sign|seal] [--krb yes|no|auto]
                       [--conf SMB.CONF] [--bench N] [--inflight K]

BINDING is a Samba binding string; --auth/--level are appended to its [options]:
    ncacn_ip_tcp:dc1.samba.test[seal,krb5]       endpoint from the epmapper, Kerberos (16), PKT_PRIVACY
    ncacn_ip_tcp:127.0.0.20[2000,sign,ntlm]      explicit port, NTLMSSP (10), PKT_INTEGRITY
  other Samba binding options: spnego (9), connect, bigendian, padcheck, ndr64, print, validate,
  target_hostname=H, target_principal=P, localaddress=IP
  Header signing: Samba's client always offers PFC_SUPPORT_HEADER_SIGN and signs headers when the server
  agrees; it has no client-side switch (the server side has `dcesrv:header signing`).

CALL:
  mgmt                  inq_if_ids, is_server_listening, inq_stats, inq_princ_name (each reported separately)
                        [--authn-proto N] (default from --auth/binding: ntlm 10, spnego 9, krb5 16)
  echo [OPS]            rpcecho; OPS comma list of AddOne,EchoData,SinkData,SourceData,TestCall,TestCall2,
                        TestSleep,TestSurrounding,TestDoublePointer (default: all but TestSleep)
                        [--value N] [--data HEX] [--len N] [--text S]
  samr                  Connect5, EnumDomains, LookupDomain (each domain), Close
  dssetup               DsRoleGetPrimaryDomainInformation(DS_ROLE_BASIC_INFORMATION), made by Samba's
                        rpcclient (python3-samba has no dssetup module; see dssetup_via_rpcclient)
  wkssvc                NetWkstaGetInfo(level 100)
  raw UUID VER OPNUM HEXSTUB     VER = major[.minor]; prints the response stub as hex. With authentication only
                        for interfaces python3-samba has a class for (mgmt, rpcecho, samr, lsarpc, netlogon,
                        epmapper, wkssvc, ...); any other UUID only anonymously without auth flags

--bench N      after connecting, time N sequential calls of the CALL's main operation (echo: AddOne,
               mgmt: inq_if_ids, samr: Connect5+Close, dssetup/wkssvc/raw: the call) and print calls/s
--inflight K   with --bench: K connections in K processes, each making N calls one after another.
               python3-samba has only a synchronous API (one call in flight per connection, the GIL held
               while it waits), so concurrency is by connections, not by calls on one association.
"""
import argparse
import binascii
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid as uuidlib

from samba import NTSTATUSError, WERRORError, credentials, ntstatus, werror
from samba.param import LoadParm

AUTH_PROTO = {"ntlm": 10, "spnego": 9, "krb5": 16}
ECHO_DEFAULT = ["AddOne", "EchoData", "SinkData", "SourceData", "TestCall", "TestCall2", "TestSurrounding",
                "TestDoublePointer"]


class Usage(Exception):
    pass


def _names(mod, prefix):
    out = {}
    for k in dir(mod):
        if k.startswith(prefix):
            v = getattr(mod, k)
            if isinstance(v, int):
                out.setdefault(v & 0xFFFFFFFF, k)
    return out


NT_NAMES = _names(ntstatus, "NT_STATUS_")
WERR_NAMES = _names(werror, "WERR_")


def error_json(e, stage):
    """An exception from samba's bindings as JSON: kind, code, name, message, stage."""
    if isinstance(e, NTSTATUSError):
        code = e.args[0] & 0xFFFFFFFF
        return {"stage": stage, "kind": "ntstatus", "code": code, "hex": "0x%08x" % code,
                "name": NT_NAMES.get(code, "0x%08x" % code), "message": str(e.args[1]) if len(e.args) > 1 else ""}
    if isinstance(e, WERRORError):
        code = e.args[0] & 0xFFFFFFFF
        return {"stage": stage, "kind": "werror", "code": code, "hex": "0x%08x" % code,
                "name": WERR_NAMES.get(code, "0x%08x" % code), "message": str(e.args[1]) if len(e.args) > 1 else ""}
    return {"stage": stage, "kind": "exception", "code": None, "hex": None, "name": type(e).__name__,
            "message": str(e)}


def to_json(o, depth=0):
    """Samba's NDR python objects (attributes only) as JSON values."""
    if depth > 8:
        return repr(o)
    if o is None or isinstance(o, (bool, int, float, str)):
        return o
    if isinstance(o, (bytes, bytearray)):
        return binascii.hexlify(bytes(o)).decode()
    if isinstance(o, (list, tuple)):
        return [to_json(x, depth + 1) for x in o]
    name = type(o).__name__
    if name in ("GUID",):
        return str(o)
    if name == "dom_sid":
        return str(o)
    if name == "lsa_String" or name == "lsa_StringLarge":
        return o.string
    out = {}
    for k in dir(o):
        if k.startswith("_"):
            continue
        try:
            v = getattr(o, k)
        except Exception:  # some getters raise on unset unions
            continue
        if callable(v):
            continue
        out[k] = to_json(v, depth + 1)
    return out


# ------------------------------------------------------------------------------------------ dssetup (rpcclient)
RPCCLIENT_FIELD = re.compile(r"^\s*(\w+)\s+:\s?(.*)$")
NT_STATUS_WORD = re.compile(r"\b(NT_STATUS_\w+|WERR_\w+)\b")


def binding_has(binding, flag):
    opts = binding.split("[", 1)[1].rstrip("]") if "[" in binding else ""
    return flag in [o.strip() for o in opts.split(",")]


def status_error(name, stage, message=""):
    table = ntstatus if name.startswith("NT_STATUS_") else werror
    code = getattr(table, name, None)
    code = code & 0xFFFFFFFF if isinstance(code, int) else None
    return {"stage": stage, "kind": "ntstatus" if table is ntstatus else "werror", "code": code,
            "hex": "0x%08x" % code if code is not None else None, "name": name, "message": message}


def dssetup_via_rpcclient(a):
    """DsRoleGetPrimaryDomainInformation(DS_ROLE_BASIC_INFORMATION) with Samba's rpcclient.

    python3-samba 4.17 has no dssetup module, and base.ClientConnection (the generic interface) segfaults when
    it binds with authentication (and its basis_connection alter_context is refused with access_denied).
    rpcclient is Samba's source3 client (same gensec); at debug level 10 it prints the decoded reply."""
    stage = "call:DsRoleGetPrimaryDomainInformation"
    with tempfile.TemporaryDirectory(prefix="samba-client-") as td:
        cmd = ["rpcclient", "-d", "10", a.binding_full, "-c", "dsroledominfo"]
        if a.conf:
            cmd += ["-s", a.conf]
        env = dict(os.environ)
        if a.anon:
            cmd += ["-N", "-U", "%"]
        elif a.krb == "yes" or binding_has(a.binding_full, "krb5"):
            # rpcclient's own Kerberos login from a password fails (NT_STATUS_INTERNAL_ERROR): give it a ccache
            cc = os.path.join(td, "ccache")
            env["KRB5CCNAME"] = "FILE:" + cc
            k = subprocess.run(["kinit", "%s@%s" % (a.user, a.realm)], input=a.password + "\n", env=env,
                               capture_output=True, text=True, timeout=60)
            if k.returncode != 0:
                return None, {"stage": "kinit", "kind": "exception", "code": None, "hex": None, "name": "kinit",
                              "message": (k.stderr or k.stdout).strip()}
            cmd += ["--use-krb5-ccache=" + cc, "--use-kerberos=required"]
        else:
            auth = os.path.join(td, "auth")
            with open(auth, "w") as f:
                f.write("username = %s\npassword = %s\ndomain = %s\n" % (a.user, a.password, a.domain))
            cmd += ["-A", auth, "--use-kerberos=" + ("off" if a.krb == "no" else "desired")]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    lines = (p.stdout + "\n" + p.stderr).splitlines()
    start = next((i for i, l in enumerate(lines)
                  if "out: struct dssetup_DsRoleGetPrimaryDomainInformation" in l), None)
    if start is None:
        failures = [l for l in lines if "Error was" in l or "failed" in l or "result was" in l]
        names = [m for l in failures for m in NT_STATUS_WORD.findall(l)]
        if names:
            return None, status_error(names[-1], stage, failures[-1].strip())
        return None, {"stage": stage, "kind": "exception", "code": None, "hex": None, "name": "rpcclient",
                      "message": "rpcclient exit %d: %s" % (p.returncode, " | ".join(lines[-5:]))}
    fields = {}
    for l in lines[start + 1:]:
        m = RPCCLIENT_FIELD.match(l)
        if not m:
            continue
        key, val = m.group(1), m.group(2).strip()
        if val == "*":
            continue
        fields[key] = val
        if key == "result":
            break
    info = {"level": 1}
    role = re.match(r"(\w+) \((\d+)\)", fields.get("role", ""))
    if role:
        info["role"], info["role_name"] = int(role.group(2)), role.group(1)
    flags = re.match(r"0x([0-9a-fA-F]+)", fields.get("flags", ""))
    if flags:
        info["flags"] = int(flags.group(1), 16)
    for k in ("domain", "dns_domain", "forest"):
        v = fields.get(k)
        info[k] = None if v in (None, "NULL") else v.strip("'")
    info["domain_guid"] = fields.get("domain_guid")
    result = fields.get("result", "")
    info["werror_name"] = result
    code = 0 if result == "WERR_OK" else getattr(werror, result, None)
    info["werror"] = code & 0xFFFFFFFF if isinstance(code, int) else None
    if result != "WERR_OK":
        return info, status_error(result, stage) if result.startswith(("WERR_", "NT_STATUS_")) else \
            {"stage": stage, "kind": "exception", "code": None, "hex": None, "name": "rpcclient",
             "message": "no result in rpcclient output"}
    return info, None


# raw with authentication needs a python3-samba interface class with the right abstract syntax: its
# .request(opnum, stub) sends any stub. Modules scanned for "<class>_abstract_syntax".
RAW_MODULES = ["mgmt", "echo", "samr", "lsa", "netlogon", "epmapper", "wkssvc", "srvsvc", "winreg", "drsuapi",
               "dnsserver", "svcctl", "atsvc", "initshutdown", "unixinfo", "dfs", "witness", "winspool",
               "spoolss", "mdssvc"]


def find_interface_class(uuid, version):
    import importlib
    known = []
    for name in RAW_MODULES:
        try:
            mod = importlib.import_module("samba.dcerpc." + name)
        except ImportError:
            continue
        for attr in dir(mod):
            if not attr.endswith("_abstract_syntax"):
                continue
            syn = getattr(mod, attr)()
            cls = getattr(mod, attr[:-len("_abstract_syntax")], None)
            if cls is None:
                continue
            known.append("%s v%d.%d (%s)" % (syn.uuid, syn.if_version & 0xFFFF, syn.if_version >> 16, name))
            if str(syn.uuid).lower() == uuid and syn.if_version == version:
                return cls, known
    return None, known


# ------------------------------------------------------------------------------------------------- the calls
class Runner:
    def __init__(self, a, lp, creds):
        self.a = a
        self.lp = lp
        self.creds = creds
        self.conn = None

    # one connection per runner; each CALL knows its interface
    def connect(self):
        a = self.a
        if a.call == "mgmt":
            from samba.dcerpc import mgmt
            self.conn = mgmt.mgmt(a.binding_full, self.lp, self.creds)
        elif a.call == "echo":
            from samba.dcerpc import echo
            self.conn = echo.rpcecho(a.binding_full, self.lp, self.creds)
        elif a.call == "samr":
            from samba.dcerpc import samr
            self.conn = samr.samr(a.binding_full, self.lp, self.creds)
        elif a.call == "wkssvc":
            from samba.dcerpc import wkssvc
            self.conn = wkssvc.wkssvc(a.binding_full, self.lp, self.creds)
        elif a.call == "dssetup":
            self.conn = None   # rpcclient, one process per call (see dssetup_via_rpcclient)
        elif a.call == "raw":
            cls, known = find_interface_class(a.raw_uuid, a.raw_version)
            if cls is not None:
                self.conn = cls(a.binding_full, self.lp, self.creds)
            elif a.anon and not any(binding_has(a.binding_full, f) for f in ("connect", "sign", "seal")):
                from samba.dcerpc import base
                self.conn = base.ClientConnection(a.binding_full, (a.raw_uuid, a.raw_version), self.lp, self.creds)
            else:
                raise Usage("raw %s v%d.%d: python3-samba can bind an interface it has no class for only "
                            "anonymously without auth flags (--anon, binding without connect/sign/seal); its "
                            "generic ClientConnection crashes with authentication. Authenticated raw calls "
                            "work for: %s" % (a.raw_uuid, a.raw_version & 0xFFFF, a.raw_version >> 16,
                                              ", ".join(known)))
        else:
            raise Usage("unknown call %r" % a.call)

    def one(self, name, fn, results, errors):
        try:
            results[name] = fn()
        except Exception as e:  # record and go on with the next operation
            errors.append(error_json(e, "call:" + name))
            results[name] = None

    # --- full runs (JSON result)
    def run(self):
        return getattr(self, "run_" + self.a.call)()

    def run_mgmt(self):
        c, res, errs = self.conn, {}, []

        def if_ids():
            v = c.inq_if_ids()
            ids = [x.id for x in (v.if_id or []) if x is not None and x.id is not None]
            return [{"uuid": str(i.uuid), "version": "%d.%d" % (i.if_version & 0xFFFF, i.if_version >> 16)}
                    for i in ids]

        def listening():
            status, result = c.is_server_listening()
            return {"status": status, "result": result}

        self.one("inq_if_ids", if_ids, res, errs)
        self.one("is_server_listening", listening, res, errs)
        self.one("inq_stats", lambda: to_json(c.inq_stats(4, 0)), res, errs)
        self.one("inq_princ_name", lambda: {"authn_proto": self.a.authn_proto,
                                            "name": c.inq_princ_name(self.a.authn_proto, 256)}, res, errs)
        return res, errs

    def run_echo(self):
        from samba.dcerpc import echo
        c, a, res, errs = self.conn, self.a, {}, []
        data = binascii.unhexlify(a.data)
        ops = {
            "AddOne": lambda: {"in": a.value, "out": c.AddOne(a.value)},
            "EchoData": lambda: {"in": a.data, "out": binascii.hexlify(bytes(c.EchoData(list(data)))).decode()},
            "SinkData": lambda: {"in": a.data, "out": c.SinkData(list(data))},
            "SourceData": lambda: {"len": a.len, "out": binascii.hexlify(bytes(c.SourceData(a.len))).decode()},
            "TestCall": lambda: {"in": a.text, "out": c.TestCall(a.text)},
            "TestCall2": lambda: {str(level): to_json(c.TestCall2(level)) for level in range(1, 8)},
            "TestSleep": lambda: {"in": a.value, "out": c.TestSleep(a.value)},
            "TestSurrounding": lambda: self._surrounding(echo),
            "TestDoublePointer": lambda: {"in": a.value, "out": c.TestDoublePointer(a.value)},
        }
        for op in a.ops:
            if op not in ops:
                raise Usage("unknown echo op %r (known: %s)" % (op, ",".join(ops)))
            self.one(op, ops[op], res, errs)
        return res, errs

    def _surrounding(self, echo):
        s = echo.Surrounding()
        s.x = 8
        s.surrounding = [1, 2, 3, 4, 5, 6, 7, 8]
        out = self.conn.TestSurrounding(s)
        return {"in_x": 8, "out_x": out.x, "out_surrounding": list(out.surrounding)}

    def run_samr(self):
        from samba.dcerpc import samr, security
        c, res, errs = self.conn, {}, []
        info = samr.ConnectInfo1()
        info.client_version = samr.SAMR_CONNECT_AFTER_W2K
        info.supported_features = 0
        try:
            level_out, info_out, h = c.Connect5(None, security.SEC_FLAG_MAXIMUM_ALLOWED, 1, info)
        except Exception as e:
            return res, [error_json(e, "call:Connect5")]
        res["Connect5"] = {"level_out": level_out, "info_out": to_json(info_out)}
        domains = []

        def enum():
            _, sam, n = c.EnumDomains(h, 0, 0xFFFFFFFF)
            names = [e.name.string for e in (sam.entries or [])]
            domains.extend(names)
            return {"num_entries": n, "names": names}

        self.one("EnumDomains", enum, res, errs)
        lookups = {}
        for d in domains:
            try:
                lookups[d] = str(c.LookupDomain(h, _lsa_string(d)))
            except Exception as e:
                errs.append(error_json(e, "call:LookupDomain(%s)" % d))
        res["LookupDomain"] = lookups
        self.one("Close", lambda: to_json(c.Close(h)), res, errs)
        return res, errs

    def run_wkssvc(self):
        c, res, errs = self.conn, {}, []

        def info():
            i = c.NetWkstaGetInfo(None, 100)
            v = i.info100 if hasattr(i, "info100") else i
            return {"platform_id": v.platform_id, "server_name": v.server_name, "domain_name": v.domain_name,
                    "version_major": v.version_major, "version_minor": v.version_minor}

        self.one("NetWkstaGetInfo", info, res, errs)
        return res, errs

    def run_dssetup(self):
        res, errs = {}, []
        info, err = dssetup_via_rpcclient(self.a)
        if info is not None:
            res["DsRoleGetPrimaryDomainInformation"] = info
        if err is not None:
            errs.append(err)
        return res, errs

    def run_raw(self):
        try:
            out = self.conn.request(self.a.raw_opnum, self.a.raw_stub)
        except Exception as e:
            return {}, [error_json(e, "call:opnum %d" % self.a.raw_opnum)]
        return {"opnum": self.a.raw_opnum, "response_stub": binascii.hexlify(out).decode(),
                "response_len": len(out)}, []

    # --- the one operation --bench repeats (raises on failure)
    def bench_op(self):
        a, c = self.a, self.conn
        if a.call == "echo":
            return lambda: c.AddOne(a.value)
        if a.call == "mgmt":
            return c.inq_if_ids
        if a.call == "samr":
            from samba.dcerpc import samr, security

            def connect_close():
                info = samr.ConnectInfo1()
                info.client_version = samr.SAMR_CONNECT_AFTER_W2K
                info.supported_features = 0
                _, _, h = c.Connect5(None, security.SEC_FLAG_MAXIMUM_ALLOWED, 1, info)
                c.Close(h)
            return connect_close
        if a.call == "wkssvc":
            return lambda: c.NetWkstaGetInfo(None, 100)
        if a.call == "dssetup":
            raise Usage("--bench is not available for dssetup (one rpcclient process per call)")
        return lambda: c.request(a.raw_opnum, a.raw_stub)


def _lsa_string(s):
    from samba.dcerpc import lsa
    v = lsa.String()
    v.string = s
    return v


def make_creds(a, lp):
    creds = credentials.Credentials()
    creds.guess(lp)
    if a.anon:
        creds.set_anonymous()
    else:
        creds.set_username(a.user)
        creds.set_password(a.password)
        creds.set_domain(a.domain)
        creds.set_realm(a.realm)
    creds.set_kerberos_state({"yes": credentials.MUST_USE_KERBEROS, "no": credentials.DONT_USE_KERBEROS,
                              "auto": credentials.AUTO_USE_KERBEROS}[a.krb])
    return creds


def bench_worker(a, lp_path, n, q):
    """One connection, n sequential calls; puts (connect_s, calls_s, error) on q (runs in a child process)."""
    try:
        lp = load_lp(lp_path)
        r = Runner(a, lp, make_creds(a, lp))
        t0 = time.monotonic()
        r.connect()
        t1 = time.monotonic()
        op = r.bench_op()
        for _ in range(n):
            op()
        q.put((t1 - t0, time.monotonic() - t1, None))
    except Exception as e:
        q.put((None, None, error_json(e, "bench")))


def load_lp(path):
    lp = LoadParm()
    if path:
        lp.load(path)
    else:
        lp.load_default()
    return lp


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], add_help=True)
    ap.add_argument("binding")
    ap.add_argument("call", choices=["mgmt", "echo", "samr", "dssetup", "wkssvc", "raw"])
    ap.add_argument("call_args", nargs="*")
    ap.add_argument("--user", default="alice")
    ap.add_argument("--password", default="Passw0rd!Alice")
    ap.add_argument("--domain", default="SAMBA")
    ap.add_argument("--realm", default="SAMBA.TEST")
    ap.add_argument("--anon", action="store_true")
    ap.add_argument("--auth", choices=sorted(AUTH_PROTO))
    ap.add_argument("--level", choices=["connect", "sign", "seal"])
    ap.add_argument("--krb", default="auto", choices=["yes", "no", "auto"])
    ap.add_argument("--conf", default=os.environ.get("SAMBA_CLIENT_CONF"))
    ap.add_argument("--authn-proto", type=int)
    ap.add_argument("--value", type=int, default=41)
    ap.add_argument("--data", default=binascii.hexlify(b"hello world").decode())
    ap.add_argument("--len", type=int, default=16)
    ap.add_argument("--text", default="hello")
    ap.add_argument("--bench", type=int, metavar="N")
    ap.add_argument("--inflight", type=int, default=1, metavar="K")
    a = ap.parse_args(argv)

    opts = [x for x in (a.level, a.auth) if x]
    b = a.binding
    if opts:
        if b.endswith("]"):
            b = b[:-1] + ("," if not b.endswith("[]") else "") + ",".join(opts) + "]"
        else:
            b = b + "[" + ",".join(opts) + "]"
    a.binding_full = b
    if a.authn_proto is None:
        proto = a.auth or next((k for k in AUTH_PROTO if "," + k in "," + b.split("[", 1)[-1]), "ntlm")
        a.authn_proto = AUTH_PROTO[proto]
    if a.call == "echo":
        a.ops = a.call_args[0].split(",") if a.call_args else ECHO_DEFAULT
    elif a.call == "raw":
        if len(a.call_args) != 4:
            raise Usage("raw needs UUID VER OPNUM HEXSTUB")
        a.raw_uuid = str(uuidlib.UUID(a.call_args[0]))
        major, _, minor = a.call_args[1].partition(".")
        a.raw_version = int(major) | (int(minor or 0) << 16)
        a.raw_opnum = int(a.call_args[2], 0)
        a.raw_stub = binascii.unhexlify(a.call_args[3])
    elif a.call_args:
        raise Usage("%s takes no arguments" % a.call)
    if a.inflight < 1 or (a.bench is not None and a.bench < 0):
        raise Usage("--bench and --inflight must be positive")
    return a


def main(argv):
    try:
        a = parse_args(argv)
    except (Usage, ValueError, binascii.Error) as e:
        print(json.dumps({"ok": False, "error": {"stage": "usage", "kind": "usage", "message": str(e)}}))
        return 2
    out = {"peer": "samba", "binding": a.binding_full, "call": a.call,
           "auth": {"anonymous": a.anon, "user": None if a.anon else a.user, "domain": a.domain,
                    "realm": a.realm, "kerberos": a.krb}}
    lp = load_lp(a.conf)
    t0 = time.monotonic()

    if a.bench is not None and a.inflight > 1:
        import multiprocessing as mp
        ctx = mp.get_context("fork")
        q = ctx.Queue()
        procs = [ctx.Process(target=bench_worker, args=(a, a.conf, a.bench, q)) for _ in range(a.inflight)]
        start = time.monotonic()
        for p in procs:
            p.start()
        rs = [q.get() for _ in procs]
        for p in procs:
            p.join()
        wall = time.monotonic() - start
        errs = [e for _, _, e in rs if e]
        calls = a.bench * a.inflight
        out["bench"] = {"mode": "processes", "connections": a.inflight, "calls": calls, "seconds": wall,
                        "calls_per_s": calls / wall if wall > 0 and not errs else None,
                        "connect_seconds": [c for c, _, _ in rs]}
        out["ok"] = not errs
        if errs:
            out["error"] = errs[0]
            out["errors"] = errs
        print(json.dumps(out))
        return 0 if not errs else 1

    r = Runner(a, lp, make_creds(a, lp))
    try:
        r.connect()
        op = r.bench_op() if a.bench is not None else None
    except Usage as e:
        print(json.dumps({"ok": False, "error": {"stage": "usage", "kind": "usage", "message": str(e)}}))
        return 2
    except Exception as e:
        out.update(ok=False, error=error_json(e, "connect"), elapsed_s=time.monotonic() - t0)
        print(json.dumps(out))
        return 1
    if r.conn is not None:
        out["connect_s"] = time.monotonic() - t0

    if op is not None:
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
        print(json.dumps(out))
        return 0

    try:
        res, errs = r.run()
    except Usage as e:
        print(json.dumps({"ok": False, "error": {"stage": "usage", "kind": "usage", "message": str(e)}}))
        return 2
    out["result"] = res
    out["ok"] = not errs
    if errs:
        out["error"] = errs[0]
        out["errors"] = errs
    out["elapsed_s"] = time.monotonic() - t0
    print(json.dumps(out))
    return 0 if not errs else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
