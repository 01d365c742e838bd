#!/usr/bin/python3
"""Waits until TCP ports on one address accept connections (no procps/iproute2 needed: reads /proc/net/tcp).

usage: wait_listen.py --ip IP [--ports 135,88] [--dynamic N] [--timeout S] [--pid PID] [--log FILE]
       wait_listen.py --ip IP --list
  --ports     each must accept a TCP connection
  --dynamic   at least N listening ports >= 49152 on IP (Samba's RPC servers register them after 135 opens)
  --pid       fail at once if this process dies (prints the tail of --log)
  --timeout   seconds; 0 = check once. Exit 0 ready, 1 not ready / process died.
  --list      print the listening TCP ports on IP and exit
"""
import argparse
import os
import socket
import struct
import sys
import time

LISTEN = "0A"


def listening(ip):
    """Listening TCP ports bound exactly to ip (IPv4)."""
    ports = set()
    try:
        with open("/proc/net/tcp") as f:
            next(f, None)
            for line in f:
                fields = line.split()
                if len(fields) < 4 or fields[3] != LISTEN:
                    continue
                addr, port = fields[1].split(":")
                if socket.inet_ntoa(struct.pack("<I", int(addr, 16))) == ip:
                    ports.add(int(port, 16))
    except OSError:
        pass
    return ports


def accepts(ip, port):
    try:
        with socket.create_connection((ip, port), timeout=1.0):
            return True
    except OSError:
        return False


def alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    # a zombie still answers kill(0): look at its state
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def tail(path, n=25):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError as e:
        return "(no log: %s)\n" % e


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ip", required=True)
    ap.add_argument("--ports", default="")
    ap.add_argument("--dynamic", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--pid", type=int)
    ap.add_argument("--log")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()

    if a.list:
        ports = sorted(listening(a.ip))
        print("listening on %s: %s" % (a.ip, " ".join(map(str, ports)) if ports else "nothing"))
        return 0

    want = [int(p) for p in a.ports.split(",") if p]
    start = time.monotonic()
    while True:
        dyn = sorted(p for p in listening(a.ip) if p >= 49152)
        missing = [p for p in want if not accepts(a.ip, p)]
        if not missing and len(dyn) >= a.dynamic:
            print("ready after %.2f s: %s:%s, dynamic %s" % (time.monotonic() - start, a.ip, want, dyn))
            return 0
        if a.pid is not None and not alive(a.pid):
            sys.stderr.write("process %d died; last log lines:\n%s" % (a.pid, tail(a.log) if a.log else ""))
            return 1
        if time.monotonic() - start >= a.timeout:
            sys.stderr.write("not ready after %.0f s: %s missing %s, dynamic ports %s (want %d)\n"
                             % (a.timeout, a.ip, missing, dyn, a.dynamic))
            if a.log:
                sys.stderr.write(tail(a.log))
            return 1
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
