#!/usr/bin/python3
"""Adds the test accounts to a freshly provisioned Samba AD DC and exports the keytabs.

Run by `scripts/peers.sh samba-start` with Debian's /usr/bin/python3 (python3-samba), while the DC is NOT running
(it opens sam.ldb directly). One process instead of a dozen `samba-tool` runs: about 1 s instead of 7 s.

  alice / Passw0rd!Alice, bob / Passw0rd!Bob     users
  rpcsvc / Passw0rd!Svc1                         account of OUR server under test, with SPNs
                                                 host/, RPCSS/, HTTP/<service host>; AES-only tickets
  administrator                                  password never expires

Writes OUT/rpcsrv.keytab (the service SPNs + rpcsvc: what our server decrypts tickets with) and OUT/all.keytab
(every account, for tshark's Kerberos decryption).
"""
import argparse
import os
import sys

import ldb
from samba import enable_net_export_keytab
from samba.auth import system_session
from samba.net import Net
from samba.param import LoadParm
from samba.samdb import SamDB

USERS = [("alice", "Passw0rd!Alice"), ("bob", "Passw0rd!Bob"), ("rpcsvc", "Passw0rd!Svc1")]
SERVICE_ACCOUNT = "rpcsvc"
SPN_SERVICES = ["host", "RPCSS", "HTTP"]
# msDS-SupportedEncryptionTypes: AES128 (0x08) | AES256 (0x10). Without it the KDC issues RC4 service tickets
# for user accounts and the exported keytab of an SPN holds only the RC4 key.
AES_ONLY = "24"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--conf", required=True, help="the DC's smb.conf")
    ap.add_argument("--out", required=True, help="directory for rpcsrv.keytab and all.keytab")
    ap.add_argument("--service-host", required=True, help="host name of our server, e.g. rpcsrv.samba.test")
    a = ap.parse_args()

    lp = LoadParm()
    lp.load(a.conf)
    db = SamDB(url=lp.private_path("sam.ldb"), session_info=system_session(), lp=lp)

    db.setexpiry("(sAMAccountName=administrator)", 0, no_expiry_req=True)
    for name, password in USERS:
        db.newuser(name, password)
        db.setexpiry("(sAMAccountName=%s)" % ldb.binary_encode(name), 0, no_expiry_req=True)
        print("added user %s" % name)

    res = db.search(base=db.domain_dn(), scope=ldb.SCOPE_SUBTREE,
                    expression="(sAMAccountName=%s)" % SERVICE_ACCOUNT, attrs=["dn"])
    if len(res) != 1:
        sys.exit("cannot find the service account %s" % SERVICE_ACCOUNT)
    spns = ["%s/%s" % (s, a.service_host) for s in SPN_SERVICES]
    m = ldb.Message()
    m.dn = res[0].dn
    m["spn"] = ldb.MessageElement(spns, ldb.FLAG_MOD_ADD, "servicePrincipalName")
    m["enc"] = ldb.MessageElement(AES_ONLY, ldb.FLAG_MOD_REPLACE, "msDS-SupportedEncryptionTypes")
    db.modify(m)
    print("service account %s: SPNs %s, msDS-SupportedEncryptionTypes=%s" % (SERVICE_ACCOUNT, spns, AES_ONLY))
    del db

    enable_net_export_keytab()
    net = Net(None, lp)
    for path in ("rpcsrv.keytab", "all.keytab"):
        full = os.path.join(a.out, path)
        if os.path.exists(full):
            os.unlink(full)
    rpcsrv = os.path.join(a.out, "rpcsrv.keytab")
    for principal in spns + [SERVICE_ACCOUNT]:
        net.export_keytab(keytab=rpcsrv, principal=principal)
    net.export_keytab(keytab=os.path.join(a.out, "all.keytab"))
    print("keytabs written: %s, %s" % (rpcsrv, os.path.join(a.out, "all.keytab")))


if __name__ == "__main__":
    main()
