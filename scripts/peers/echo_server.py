#!/usr/bin/env python3
"""A tiny UNAUTHENTICATED rpcecho server (60a15ec5-4de8-11d7-a637-005056a20182 v1.0) on impacket's
DCERPCServer, to check the peer CLIENT scripts (samba_client.py echo, impacket_client.py echo) against something
that answers. Not a reference implementation: no authentication, one connection at a time, NDR32 only, and
smbtorture's rpc.echo does not get past its connect (NT_STATUS_RPC_PROTOCOL_ERROR).

usage: echo_server.py [--ip 127.0.0.1] [--port 0]     prints "listening IP PORT" once ready
  opnum 0 AddOne, 1 EchoData, 2 SinkData, 3 SourceData, 4 TestCall (UTF-16 string echoed back)
"""
import argparse
import struct
import sys

from impacket.dcerpc.v5 import rpcrt

ECHO = ("60a15ec5-4de8-11d7-a637-005056a20182", "1.0")


def u32(b, off):
    if off + 4 > len(b):
        raise ValueError("stub too short")
    return struct.unpack_from("<I", b, off)[0]


def add_one(stub):
    return struct.pack("<I", (u32(stub, 0) + 1) & 0xFFFFFFFF)


def echo_data(stub):
    n = u32(stub, 0)          # len
    data = stub[8:8 + n]      # conformant array: max_count, bytes
    return struct.pack("<I", n) + data


def sink_data(stub):
    return b""


def source_data(stub):
    n = u32(stub, 0)
    return struct.pack("<I", n) + bytes(i & 0xFF for i in range(n))


def test_call(stub):
    # [in,ref,string,charset(UTF16)] uint16 *s1 -> max, offset, actual, chars
    actual = u32(stub, 8)
    chars = stub[12:12 + 2 * actual]
    # [out,ref,string,charset(UTF16)] uint16 **s2 -> unique referent, then the string
    return struct.pack("<IIII", 0x00020000, actual, 0, actual) + chars


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ip", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    srv = rpcrt.DCERPCServer()
    srv.setListenAddress(a.ip)
    srv.setListenPort(a.port)
    srv.addCallbacks(ECHO, "", {0: add_one, 1: echo_data, 2: sink_data, 3: source_data, 4: test_call})
    print("listening %s %d" % (a.ip, srv.getListenPort()), flush=True)
    srv.run()


if __name__ == "__main__":
    sys.exit(main())
