#!/usr/bin/python3
"""Samba's pidl-generated NDR as an oracle for the dcom-idl tests.

Reads one JSON request on stdin and writes one JSON answer on stdout:

  request: {"generate": bool, "check": [{"op", "syntax", "in_hex", "out_hex"}, ...]}
  answer:  {"samba": version,
            "generated": [{"op", "syntax", "in_hex", "out_hex", "in_value", "out_value"}, ...],
            "checked": [{"ok": true, "in_value", "out_value", "in_hex", "out_hex"} | {"ok": false, "error"}]}

"generate" builds values with Samba's Python bindings (python3-samba), packs them with ndr_pack_in/out in
every syntax, unpacks the bytes into fresh objects and reports their values. "check" unpacks bytes made by
dcom-idl, reports the values Samba sees and the bytes Samba packs from them again.

`dssetup` has no Python binding in python3-samba: it is driven through libndr-standard's own
`ndr_table_dssetup` push/pull/print functions with ctypes (the same pidl-generated C code).

Value convention: the parameters of one direction as a dict keyed by their IDL names (without Samba's
in_/out_ prefixes), plus "result" for the return value; structures are dicts of their members, a union is its
arm's value, a GUID its string, a SID its string form, enums and NTSTATUS/WERROR integers.
"""

import ctypes as C
import json
import os
import sys
import traceback
import uuid as uuidlib

try:
    from samba import ndr as N
    from samba.dcerpc import base, echo, lsa, mgmt, misc, samr, security, wkssvc
    import samba
except ImportError as e:  # the Rust test turns this into a loud failure
    sys.stdout.write(json.dumps({"fatal": "python3-samba is not installed: %s" % e}))
    sys.stdout.flush()
    os._exit(0)

SYNTAXES = {
    "ndr20": {"bigendian": False, "ndr64": False},
    "ndr20be": {"bigendian": True, "ndr64": False},
    "ndr64": {"bigendian": False, "ndr64": True},
}


# ----------------------------------------------------------------------------------------------------------
# dumping Python NDR objects


def dump(v):
    if v is None or isinstance(v, (bool, int, str, float)):
        return v
    if isinstance(v, bytes):
        return list(v)
    if isinstance(v, (list, tuple)):
        return [dump(x) for x in v]
    if isinstance(v, misc.GUID):
        return str(v)
    if isinstance(v, security.dom_sid):
        return str(v)
    out = {}
    for a in dir(v):
        if a.startswith("_"):
            continue
        try:
            x = getattr(v, a)
        except Exception as e:  # an unset union, for example
            out[a] = "<error: %s>" % e
            continue
        if callable(x):
            continue
        out[a] = dump(x)
    return out


def dump_params(o, prefix):
    d = {}
    for a in dir(o):
        if a.startswith(prefix):
            d[a[len(prefix):]] = dump(getattr(o, a))
    if prefix == "out_" and hasattr(o, "result"):
        r = o.result
        r = r[0] if isinstance(r, tuple) else r  # NTSTATUS / WERROR: (code, message), code signed
        d["result"] = r & 0xFFFFFFFF if isinstance(r, int) and r < 0 else r
    return d


def dump_double_pointer(o):
    """echo_TestDoublePointer: the bindings collapse uint16*** in Python; read the levels from ndr_print."""
    lines = [l.strip() for l in N.ndr_print_in(o).splitlines() if l.strip().startswith("data")]
    # lines: "data : *" for the [ref] level and each non-null pointer, then "data : NULL" or the value
    stars = sum(1 for l in lines if l.endswith(": *"))
    last = lines[-1]
    if last.endswith("NULL"):
        return {"data": None} if stars == 1 else {"data": {"ptr": None}}
    value = int(last.split("(")[-1].rstrip(")"))
    return {"data": {"ptr": value}}


class PyOp:
    """An operation with Python bindings."""

    def __init__(self, name, cls, dump_in=None):
        self.name = name
        self.cls = cls
        self.dump_in = dump_in or (lambda o: dump_params(o, "in_"))

    def roundtrip(self, in_bytes, out_bytes, flags):
        o = self.cls()
        N.ndr_unpack_in(o, in_bytes, **flags)
        N.ndr_unpack_out(o, out_bytes, **flags)
        return (
            self.dump_in(o),
            dump_params(o, "out_"),
            N.ndr_pack_in(o, **flags),
            N.ndr_pack_out(o, **flags),
        )

    def pack(self, o, flags):
        return N.ndr_pack_in(o, **flags), N.ndr_pack_out(o, **flags)


# ----------------------------------------------------------------------------------------------------------
# dssetup through ctypes

NDR_IN = 0x10
NDR_OUT = 0x20
LIBNDR_FLAG_BIGENDIAN = 1 << 0
LIBNDR_FLAG_REF_ALLOC = 1 << 20
LIBNDR_FLAG_NDR64 = 1 << 29


class Blob(C.Structure):
    _fields_ = [("data", C.c_void_p), ("length", C.c_size_t)]


class Call(C.Structure):
    _fields_ = [
        ("name", C.c_char_p),
        ("struct_size", C.c_size_t),
        ("push", C.c_void_p),
        ("pull", C.c_void_p),
        ("print", C.c_void_p),
        ("in_pipes", C.c_char * 16),
        ("out_pipes", C.c_char * 16),
    ]


class Table(C.Structure):
    _fields_ = [
        ("name", C.c_char_p),
        ("uuid", C.c_char * 16),
        ("if_version", C.c_uint32),
        ("helpstring", C.c_char_p),
        ("num_calls", C.c_uint32),
        ("calls", C.POINTER(Call)),
    ]


FN = C.CFUNCTYPE(C.c_int, C.c_void_p, C.c_int, C.c_void_p)


class DssetupOp:
    """dssetup_DsRoleGetPrimaryDomainInformation via ndr_table_dssetup.

    C layout (x86_64): struct { struct { enum level; } in; struct { union dssetup_DsRoleInfo *info;
    WERROR result; } out; } = level@0, info@8, result@16; union arm basic = role@0 flags@4 domain@8
    dns_domain@16 forest@24 domain_guid@32 (48 bytes); upgrade = upgrading@0 previous_role@4; opstatus =
    status@0.
    """

    name = "dssetup.DsRoleGetPrimaryDomainInformation"

    def __init__(self):
        self.tl = C.CDLL("libtalloc.so.2")
        self.ndr = C.CDLL("libndr.so.3")
        std = C.CDLL("libndr-standard.so.0")
        self.tl.talloc_named_const.restype = C.c_void_p
        self.tl.talloc_named_const.argtypes = [C.c_void_p, C.c_size_t, C.c_char_p]
        self.tl._talloc_zero.restype = C.c_void_p
        self.tl._talloc_zero.argtypes = [C.c_void_p, C.c_size_t, C.c_char_p]
        self.tl.talloc_strdup.restype = C.c_void_p
        self.tl.talloc_strdup.argtypes = [C.c_void_p, C.c_char_p]
        self.ndr.ndr_push_init_ctx.restype = C.c_void_p
        self.ndr.ndr_push_init_ctx.argtypes = [C.c_void_p]
        self.ndr.ndr_push_blob.restype = Blob
        self.ndr.ndr_push_blob.argtypes = [C.c_void_p]
        self.ndr.ndr_pull_init_blob.restype = C.c_void_p
        self.ndr.ndr_pull_init_blob.argtypes = [C.POINTER(Blob), C.c_void_p]
        table = Table.in_dll(std, "ndr_table_dssetup")
        call = table.calls[0]
        assert call.name == b"dssetup_DsRoleGetPrimaryDomainInformation", call.name
        assert call.struct_size == 24, call.struct_size
        self.push_fn = FN(call.push)
        self.pull_fn = FN(call.pull)
        self.mem = self.tl.talloc_named_const(None, 0, b"dssetup-oracle")

    @staticmethod
    def flags_of(flags):
        f = 0
        if flags["bigendian"]:
            f |= LIBNDR_FLAG_BIGENDIAN
        if flags["ndr64"]:
            f |= LIBNDR_FLAG_NDR64
        return f

    def u32(self, addr):
        return C.c_uint32.from_address(addr).value

    def set_u32(self, addr, v):
        C.c_uint32.from_address(addr).value = v

    def ptr(self, addr):
        return C.c_void_p.from_address(addr).value

    def set_ptr(self, addr, v):
        C.c_void_p.from_address(addr).value = v

    def str_at(self, addr):
        p = self.ptr(addr)
        return None if not p else C.string_at(p).decode("utf-8")

    def set_str(self, addr, s):
        self.set_ptr(addr, None if s is None else self.tl.talloc_strdup(self.mem, s.encode("utf-8")))

    def build(self, level, info, result):
        r = self.tl._talloc_zero(self.mem, 24, b"r")
        self.set_u32(r, level)
        if info is not None:
            u = self.tl._talloc_zero(self.mem, 48, b"u")
            if level == 1:
                self.set_u32(u, info["role"])
                self.set_u32(u + 4, info["flags"])
                self.set_str(u + 8, info["domain"])
                self.set_str(u + 16, info["dns_domain"])
                self.set_str(u + 24, info["forest"])
                C.memmove(u + 32, uuidlib.UUID(info["domain_guid"]).bytes_le, 16)
            elif level == 2:
                self.set_u32(u, info["upgrading"])
                self.set_u32(u + 4, info["previous_role"])
            else:
                self.set_u32(u, info["status"])
            self.set_ptr(r + 8, u)
        self.set_u32(r + 16, result)
        return r

    def read(self, r):
        level = self.u32(r)
        u = self.ptr(r + 8)
        if not u:
            info = None
        elif level == 1:
            info = {
                "role": self.u32(u),
                "flags": self.u32(u + 4),
                "domain": self.str_at(u + 8),
                "dns_domain": self.str_at(u + 16),
                "forest": self.str_at(u + 24),
                "domain_guid": str(uuidlib.UUID(bytes_le=C.string_at(u + 32, 16))),
            }
        elif level == 2:
            info = {"upgrading": self.u32(u), "previous_role": self.u32(u + 4)}
        else:
            info = {"status": self.u32(u)}
        return {"level": level}, {"info": info, "result": self.u32(r + 16)}

    def push(self, r, direction, flags):
        p = self.ndr.ndr_push_init_ctx(self.mem)
        self.set_u32(p, self.u32(p) | self.flags_of(flags))
        err = self.push_fn(p, direction, r)
        if err != 0:
            raise RuntimeError("ndr push error %d" % err)
        b = self.ndr.ndr_push_blob(p)
        return C.string_at(b.data, b.length)

    def pull(self, r, direction, data, flags):
        buf = C.create_string_buffer(data, len(data))
        blob = Blob(C.cast(buf, C.c_void_p).value, len(data))
        p = self.ndr.ndr_pull_init_blob(C.byref(blob), self.mem)
        self.set_u32(p, self.u32(p) | self.flags_of(flags) | LIBNDR_FLAG_REF_ALLOC)
        err = self.pull_fn(p, direction, r)
        if err != 0:
            raise RuntimeError("ndr pull error %d" % err)
        # struct ndr_pull { uint32 flags; uint8 *data; uint32 data_size; uint32 offset; ... }
        size, offset = self.u32(p + 16), self.u32(p + 20)
        if offset != size:
            raise RuntimeError("ndr pull left %d of %d bytes" % (size - offset, size))
        self._keep = buf

    def roundtrip(self, in_bytes, out_bytes, flags):
        r = self.tl._talloc_zero(self.mem, 24, b"r")
        self.pull(r, NDR_IN, in_bytes, flags)
        self.pull(r, NDR_OUT, out_bytes, flags)
        in_v, out_v = self.read(r)
        return in_v, out_v, self.push(r, NDR_IN, flags), self.push(r, NDR_OUT, flags)

    def pack(self, r, flags):
        return self.push(r, NDR_IN, flags), self.push(r, NDR_OUT, flags)


# ----------------------------------------------------------------------------------------------------------
# values

G1 = "12345678-1234-5678-9abc-def012345678"
G2 = "ee7983fb-f40d-4f60-82c7-3946effeaa01"
G3 = "ffffffff-ffff-ffff-ffff-ffffffffffff"


def handle(t, g):
    h = misc.policy_handle()
    h.handle_type = t
    h.uuid = misc.GUID(g)
    return h


def lsa_string(s):
    x = lsa.String()
    x.string = s
    return x


def sid(s):
    return security.dom_sid(s)


def fn(cls, **kw):
    o = cls()
    for k, v in kw.items():
        setattr(o, k, v)
    return o


def echo_cases():
    cases = []
    for v, w in [(0, 1), (1, 2), (0x7FFFFFFF, 0x80000000), (0xFFFFFFFF, 0)]:
        cases.append(("echo.AddOne", fn(echo.AddOne, in_in_data=v, out_out_data=w)))
    for n in [0, 1, 5, 255, 4096, 70000]:
        data = [(i * 7 + 3) & 0xFF for i in range(n)]
        cases.append(("echo.EchoData", fn(echo.EchoData, in_len=n, in_in_data=data, out_out_data=data)))
        cases.append(("echo.SinkData", fn(echo.SinkData, in_len=n, in_data=data)))
        cases.append(("echo.SourceData", fn(echo.SourceData, in_len=n, out_data=[i & 0xFF for i in range(n)])))
    long = "x" * 1000 + "end"
    for s1, s2 in [("", None), ("foo", "this is a test string"), ("h\u00e9llo \u20ac", ""), (long, long), ("a", None)]:
        cases.append(("echo.TestCall", fn(echo.TestCall, in_s1=s1, out_s2=s2)))
    infos = [
        (1, echo.info1, {"v": 0x5A}),
        (1, echo.info1, {"v": 0xFF}),
        (2, echo.info2, {"v": 0xBEEF}),
        (3, echo.info3, {"v": 0xDEADBEEF}),
        (4, echo.info4, {"v": 0x0102030405060708}),
        (4, echo.info4, {"v": 0xFFFFFFFFFFFFFFFF}),
        (5, echo.info5, {"v1": 0x11, "v2": 0x2233445566778899}),
        (6, echo.info6, {"v1": 0x12, "info1": fn(echo.info1, v=0x34)}),
        (7, echo.info7, {"v1": 0x56, "info4": fn(echo.info4, v=0x7788)}),
    ]
    for level, cls, members in infos:
        for result in [0, 0xC0000001]:
            cases.append(("echo.TestCall2", fn(echo.TestCall2, in_level=level, out_info=fn(cls, **members), result=result)))
    for s in [0, 1, 0xFFFFFFFF]:
        cases.append(("echo.TestSleep", fn(echo.TestSleep, in_seconds=s, result=s ^ 0x5555)))
    e2 = fn(echo.Enum2, e1=1, e2=2)
    e2b = fn(echo.Enum2, e1=2, e2=1)
    for foo1, foo3, ofoo1, ofoo3 in [(1, 1, 1, 2), (1, 2, 2, e2b), (2, e2, 2, e2), (2, e2b, 1, 1)]:
        cases.append(
            (
                "echo.TestEnum",
                fn(echo.TestEnum, in_foo1=foo1, in_foo2=e2, in_foo3=foo3, out_foo1=ofoo1, out_foo2=e2b, out_foo3=ofoo3),
            )
        )
    for n, m in [(0, 0), (1, 2), (20, 40), (3, 1)]:
        a = fn(echo.Surrounding, x=n, surrounding=[i * 3 for i in range(n)])
        b = fn(echo.Surrounding, x=m, surrounding=[0xFFFF - i for i in range(m)])
        cases.append(("echo.TestSurrounding", fn(echo.TestSurrounding, in_data=a, out_data=b)))
    return cases


def echo_double_pointer_cases(syntax):
    """The bindings cannot build uint16*** values; unpack hand-written stubs instead (Samba accepts them and
    reports the value; the Rust side checks the bytes both ways)."""
    flags = SYNTAXES[syntax]
    ndr64 = flags["ndr64"]
    be = flags["bigendian"]

    def ptr(v):
        return v.to_bytes(8 if ndr64 else 4, "big" if be else "little")

    def u16(v):
        return v.to_bytes(2, "big" if be else "little")

    ins = [ptr(0), ptr(0x20000) + ptr(0), ptr(0x20000) + ptr(0x20004) + u16(7), ptr(0x20000) + ptr(0x20004) + u16(0xFFFF)]
    out = []
    for i, data in enumerate(ins):
        o = echo.TestDoublePointer()
        N.ndr_unpack_in(o, data, **flags)
        o.result = [0, 1, 7, 0xFFFF][i]
        out.append(("echo.TestDoublePointer", o))
    return out


def mgmt_cases():
    cases = []

    def ifid(g, v):
        s = misc.ndr_syntax_id()
        s.uuid = misc.GUID(g)
        s.if_version = v
        return fn(mgmt.ndr_syntax_id_p, id=s)

    def vec(ids):
        return fn(mgmt.rpc_if_id_vector_t, count=len(ids), if_id=ids)

    nullid = fn(mgmt.ndr_syntax_id_p, id=None)
    for v, res in [
        (None, 5),
        (vec([]), 0),
        (vec([ifid(G1, 0x00020001)]), 0),
        (vec([ifid(G1, 1), nullid, ifid(G2, 0xFFFFFFFF), ifid(G3, 0x00000003)]), 0),
        (vec([ifid(G2, i) for i in range(50)]), 0),
    ]:
        cases.append(("mgmt.inq_if_ids", fn(mgmt.inq_if_ids, out_if_id_vector=v, result=res)))
    for mc, stats in [(4, [1, 2, 3, 4]), (0, []), (4, [0xFFFFFFFF] * 4), (1, [7])]:
        st = fn(mgmt.statistics, count=len(stats), statistics=stats)
        cases.append(("mgmt.inq_stats", fn(mgmt.inq_stats, in_max_count=mc, in_unknown=0, out_statistics=st, result=0)))
    for status, res in [(0, 1), (0x16C9A0D6, 0), (0xFFFFFFFF, 0xFFFFFFFF)]:
        cases.append(("mgmt.is_server_listening", fn(mgmt.is_server_listening, out_status=status, result=res)))
    for res in [0, 5]:
        cases.append(("mgmt.stop_server_listening", fn(mgmt.stop_server_listening, result=res)))
    for proto, size, name in [(9, 1, ""), (10, 256, "host/server.example.com@EXAMPLE.COM"), (16, 4, "abc"), (0xFF, 1000, "p" * 999)]:
        cases.append(
            (
                "mgmt.inq_princ_name",
                fn(mgmt.inq_princ_name, in_authn_proto=proto, in_princ_name_size=size, out_princ_name=name, result=0),
            )
        )
    return cases


def samr_cases():
    cases = []
    for h, res in [(handle(0, G1), 0), (handle(0xFFFFFFFF, G3), 0xC0000008), (handle(0, "00000000-0000-0000-0000-000000000000"), 0)]:
        cases.append(("samr.Close", fn(samr.Close, in_handle=h, out_handle=handle(0, "00000000-0000-0000-0000-000000000000"), result=res)))
    sids = [None, sid("S-1-5-21-1-2-3"), sid("S-1-5-32"), sid("S-1-5"), sid("S-1-5-21-" + "-".join(str(4294967295 - i) for i in range(14)))]
    names = [None, "", "DOM", "Builtin", "D" * 300]
    for i, (name, s) in enumerate(zip(names, sids)):
        cases.append(
            (
                "samr.LookupDomain",
                fn(samr.LookupDomain, in_connect_handle=handle(0, G2), in_domain_name=lsa_string(name), out_sid=s, result=0 if s else 0xC00000DF),
            )
        )

    def entry(idx, name):
        return fn(samr.SamEntry, idx=idx, name=lsa_string(name))

    def sam(entries):
        return fn(samr.SamArray, count=len(entries) if entries is not None else 0, entries=entries)

    for s, n, res in [
        (None, 0, 0xC0000022),
        (sam([]), 0, 0),
        (sam(None), 0, 0),
        (sam([entry(0, "3B"), entry(1, "Builtin")]), 2, 0),
        (sam([entry(i, "domain%d" % i) for i in range(40)] + [entry(0xFFFFFFFF, None), entry(7, "")]), 42, 0x105),
    ]:
        cases.append(
            (
                "samr.EnumDomains",
                fn(samr.EnumDomains, in_connect_handle=handle(0, G2), in_resume_handle=n, in_buf_size=0x2000, out_resume_handle=n + 1, out_sam=s, out_num_entries=n, result=res),
            )
        )
    for name, mask in [(None, 0x30), ("\\\\server", 0x02000000), ("", 0xFFFFFFFF)]:
        cases.append(("samr.Connect2", fn(samr.Connect2, in_system_name=name, in_access_mask=mask, out_connect_handle=handle(0, G1), result=0)))
    for name, mask, ver, feat in [("\\\\dc1.example.com", 0x30, 3, 0), (None, 0x02000000, 3, 0x10), ("", 1, 0xFFFFFFFF, 0xFFFFFFFF)]:
        info = fn(samr.ConnectInfo1, client_version=ver, supported_features=feat)
        cases.append(
            (
                "samr.Connect5",
                fn(samr.Connect5, in_system_name=name, in_access_mask=mask, in_level_in=1, in_info_in=info, out_level_out=1, out_info_out=info, out_connect_handle=handle(0, G2), result=0),
            )
        )
    return cases


WKS1010 = [
    (1010, "char_wait"), (1011, "collection_time"), (1012, "maximum_collection_count"), (1013, "keep_connection"),
    (1018, "session_timeout"), (1023, "size_char_buf"), (1027, "errorlog_sz"), (1028, "print_buf_time"),
    (1032, "wrk_heuristics"), (1033, "max_threads"), (1041, "lock_quota"), (1042, "lock_increment"),
    (1043, "lock_maximum"), (1044, "pipe_increment"), (1045, "pipe_maximum"), (1046, "dormant_file_limit"),
    (1047, "cache_file_timeout"), (1048, "use_opportunistic_locking"), (1049, "use_unlock_behind"),
    (1050, "use_close_behind"), (1051, "buf_named_pipes"), (1052, "use_lock_read_unlock"),
    (1053, "utilize_nt_caching"), (1054, "use_raw_read"), (1055, "use_raw_write"), (1056, "use_write_raw_data"),
    (1057, "use_encryption"), (1058, "buf_files_deny_write"), (1059, "buf_read_only_files"),
    (1060, "force_core_create_mode"), (1061, "use_512_byte_max_transfer"), (1062, "read_ahead_throughput"),
]

I502 = [
    "char_wait", "collection_time", "maximum_collection_count", "keep_connection", "max_commands",
    "session_timeout", "size_char_buf", "max_threads", "lock_quota", "lock_increment", "lock_maximum",
    "pipe_increment", "pipe_maximum", "cache_file_timeout", "dormant_file_limit", "read_ahead_throughput",
    "num_mailslot_buffers", "num_srv_announce_buffers", "max_illegal_dgram_events", "dgram_event_reset_freq",
    "log_election_packets", "use_opportunistic_locking", "use_unlock_behind", "use_close_behind",
    "buf_named_pipes", "use_lock_read_unlock", "utilize_nt_caching", "use_raw_read", "use_raw_write",
    "use_write_raw_data", "use_encryption", "buf_files_deny_write", "buf_read_only_files",
    "force_core_create_mode", "use_512_byte_max_transfer",
]


def wkssvc_cases():
    cases = []

    def get(server, level, info, res=0):
        return ("wkssvc.NetWkstaGetInfo", fn(wkssvc.NetWkstaGetInfo, in_server_name=server, in_level=level, out_info=info, result=res))

    i100 = fn(wkssvc.NetWkstaInfo100, platform_id=500, server_name="WS01", domain_name="EXAMPLE", version_major=10, version_minor=0)
    cases.append(get("\\\\ws01", 100, i100))
    cases.append(get(None, 100, fn(wkssvc.NetWkstaInfo100, platform_id=300, server_name=None, domain_name=None, version_major=0xFFFFFFFF, version_minor=1)))
    cases.append(get("", 100, None, 5))
    cases.append(get(None, 101, fn(wkssvc.NetWkstaInfo101, platform_id=500, server_name="A", domain_name="", version_major=6, version_minor=1, lan_root="C:\\lanman")))
    cases.append(get(None, 102, fn(wkssvc.NetWkstaInfo102, platform_id=500, server_name="B", domain_name="D", version_major=6, version_minor=3, lan_root=None, logged_on_users=3)))
    cases.append(get("\\\\x", 502, fn(wkssvc.NetWkstaInfo502, **{k: (i * 0x01010101) & 0xFFFFFFFF for i, k in enumerate(I502)})))
    for level, key in WKS1010:
        cls = getattr(wkssvc, "NetWkstaInfo%d" % level)
        cases.append(get(None, level, fn(cls, **{key: level * 3})))
    cases.append(get(None, 1010, None, 5))
    cases.append(get(None, 9999, None, 124))
    return cases


def dssetup_values():
    basic = [
        {"role": 5, "flags": 0x01000003, "domain": "EXAMPLE", "dns_domain": "example.com", "forest": "example.com", "domain_guid": G1},
        {"role": 0, "flags": 0, "domain": "WORKGROUP", "dns_domain": None, "forest": None, "domain_guid": "00000000-0000-0000-0000-000000000000"},
        {"role": 3, "flags": 0xFFFFFFFF, "domain": "", "dns_domain": "d" * 300, "forest": None, "domain_guid": G3},
    ]
    vals = [(1, b, 0) for b in basic]
    vals += [(2, {"upgrading": 0, "previous_role": 0}, 0), (2, {"upgrading": 1, "previous_role": 2}, 0)]
    vals += [(3, {"status": s}, 0) for s in (0, 1, 2)]
    vals += [(1, None, 0x32), (3, None, 5)]
    return vals


# ----------------------------------------------------------------------------------------------------------

PY_OPS = {}
for _name, _cls in [
    ("echo.AddOne", echo.AddOne), ("echo.EchoData", echo.EchoData), ("echo.SinkData", echo.SinkData),
    ("echo.SourceData", echo.SourceData), ("echo.TestCall", echo.TestCall), ("echo.TestCall2", echo.TestCall2),
    ("echo.TestSleep", echo.TestSleep), ("echo.TestEnum", echo.TestEnum), ("echo.TestSurrounding", echo.TestSurrounding),
    ("mgmt.inq_if_ids", mgmt.inq_if_ids), ("mgmt.inq_stats", mgmt.inq_stats),
    ("mgmt.is_server_listening", mgmt.is_server_listening), ("mgmt.stop_server_listening", mgmt.stop_server_listening),
    ("mgmt.inq_princ_name", mgmt.inq_princ_name), ("samr.Close", samr.Close), ("samr.LookupDomain", samr.LookupDomain),
    ("samr.EnumDomains", samr.EnumDomains), ("samr.Connect2", samr.Connect2), ("samr.Connect5", samr.Connect5),
    ("wkssvc.NetWkstaGetInfo", wkssvc.NetWkstaGetInfo),
]:
    PY_OPS[_name] = PyOp(_name, _cls)
PY_OPS["echo.TestDoublePointer"] = PyOp("echo.TestDoublePointer", echo.TestDoublePointer, dump_double_pointer)

DSSETUP = DssetupOp()
OPS = dict(PY_OPS)
OPS[DSSETUP.name] = DSSETUP


def generate():
    out = []
    for syntax, flags in SYNTAXES.items():
        objs = echo_cases() + echo_double_pointer_cases(syntax) + mgmt_cases() + samr_cases() + wkssvc_cases()
        items = [(name, PY_OPS[name], o) for name, o in objs]
        items += [(DSSETUP.name, DSSETUP, DSSETUP.build(l, i, r)) for l, i, r in dssetup_values()]
        for name, op, o in items:
            case = {"op": name, "syntax": syntax}
            try:
                in_b, out_b = op.pack(o, flags)
                in_v, out_v, in_b2, out_b2 = op.roundtrip(in_b, out_b, flags)
                case.update(in_hex=in_b.hex(), out_hex=out_b.hex(), in_value=in_v, out_value=out_v)
                if in_b2 != in_b or out_b2 != out_b:
                    case["samba_repack_differs"] = True
            except Exception as e:
                case["error"] = "%s: %s" % (type(e).__name__, e)
            out.append(case)
    return out


def check(items):
    res = []
    for it in items:
        try:
            op = OPS[it["op"]]
            flags = SYNTAXES[it["syntax"]]
            in_v, out_v, in_b, out_b = op.roundtrip(bytes.fromhex(it["in_hex"]), bytes.fromhex(it["out_hex"]), flags)
            res.append({"ok": True, "in_value": in_v, "out_value": out_v, "in_hex": in_b.hex(), "out_hex": out_b.hex()})
        except Exception as e:
            res.append({"ok": False, "error": "%s: %s" % (type(e).__name__, e)})
    return res


def main():
    req = json.load(sys.stdin)
    answer = {"samba": samba.version}
    try:
        if req.get("generate"):
            answer["generated"] = generate()
        answer["checked"] = check(req.get("check", []))
    except Exception:
        answer["fatal"] = traceback.format_exc()
    sys.stdout.write(json.dumps(answer))
    sys.stdout.flush()
    # Samba's bindings of uint16*** crash while tearing objects down: leave without running destructors.
    os._exit(0)


if __name__ == "__main__":
    main()
