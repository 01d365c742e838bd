#!/usr/bin/env bash
# A throwaway MIT Kerberos KDC for the dcom-auth tests, everything under one directory, no /etc edits.
#
# usage: scripts/mitkdc.sh start|stop|status|env [DIR]
#   DIR  state directory (default ${DCOM_PEERS_DIR:-/tmp/dcom-peers}/mitkdc)
#
# start   writes DIR/krb5.conf and DIR/kdc.conf, creates the database once (re-created when the principal set
#         below changes: see STAMP), exports the service keys with kadmin.local ktadd, starts krb5kdc on
#         127.0.0.30:88 (TCP and UDP) in the background and waits until both listen. Idempotent: a running
#         KDC of the same DIR is left alone.
# stop    stops the KDC of DIR by its pid file.
# status  exit 0 when the KDC of DIR runs, 3 otherwise.
# env     `export` lines: KRB5_CONFIG, KRB5_KDC_PROFILE, KRB5CCNAME (DIR/ccache), MITKDC_DIR.
#
# Realm MIT.TEST. Principals:
#   alice / Passw0rd!Alice, bob / Passw0rd!Bob           users (AES256 + AES128 keys, pre-auth required)
#   host/rpcsrv.mit.test, RPCSS/rpcsrv.mit.test          services, random AES256 + AES128 keys
#   host/aes128.mit.test                                 service with an AES128 key only
#   host/short.mit.test                                  service whose tickets live at most 10 seconds
# Keytabs (written by kadmin.local ktadd -norandkey, read by our own parser):
#   DIR/rpcsrv.keytab  the four service principals above
#   DIR/alice.keytab   alice's password-derived keys (ktadd -norandkey), for keytab client credentials
# Needs the Debian packages krb5-kdc, krb5-admin-server (kadmin.local) and krb5-user (kinit, klist, kvno).
set -euo pipefail

cmd=${1:-}
DIR=${2:-${DCOM_PEERS_DIR:-/tmp/dcom-peers}/mitkdc}
REALM=MIT.TEST
KDC_IP=127.0.0.30
KDC_PORT=88
MASTER_PW=MasterPw123
# Bump when the principals or their settings change: an existing database with another stamp is rebuilt.
STAMP="v3 realm=$REALM users=alice,bob services=host,RPCSS,aes128,short"

log() { printf 'mitkdc: %s\n' "$*" >&2; }
die() { printf 'mitkdc: ERROR: %s\n' "$*" >&2; exit 1; }

need_tools() {
  local missing=()
  for t in krb5kdc kdb5_util kadmin.local kinit; do
    command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || missing+=("$t")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    die "missing ${missing[*]}: apt-get install krb5-kdc krb5-admin-server krb5-user"
  fi
}

write_conf() {
  mkdir -p "$DIR"
  cat > "$DIR/krb5.conf" <<EOF
[libdefaults]
	default_realm = $REALM
	dns_lookup_realm = false
	dns_lookup_kdc = false
	rdns = false
	dns_canonicalize_hostname = false
	udp_preference_limit = 0
	forwardable = true
	default_ccache_name = FILE:$DIR/ccache
	permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
[realms]
	$REALM = {
		kdc = $KDC_IP:$KDC_PORT
		admin_server = $KDC_IP:7490
	}
[domain_realm]
	.mit.test = $REALM
	mit.test = $REALM
EOF
  cat > "$DIR/kdc.conf" <<EOF
[kdcdefaults]
	kdc_listen = $KDC_IP:$KDC_PORT
	kdc_tcp_listen = $KDC_IP:$KDC_PORT
[realms]
	$REALM = {
		database_name = $DIR/principal
		key_stash_file = $DIR/stash
		acl_file = $DIR/kadm5.acl
		max_life = 10h 0m 0s
		max_renewable_life = 7d 0h 0m 0s
		supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
		kdc_listen = $KDC_IP:$KDC_PORT
		kdc_tcp_listen = $KDC_IP:$KDC_PORT
	}
[logging]
	kdc = FILE:$DIR/kdc.log
EOF
  : > "$DIR/kadm5.acl"
}

env_lines() {
  cat <<EOF
export KRB5_CONFIG='$DIR/krb5.conf'
export KRB5_KDC_PROFILE='$DIR/kdc.conf'
export KRB5CCNAME='FILE:$DIR/ccache'
export MITKDC_DIR='$DIR'
EOF
}

kadm() { kadmin.local -r "$REALM" -q "$1" >/dev/null 2>>"$DIR/kadmin.err" || die "kadmin.local: $1 (see $DIR/kadmin.err)"; }

provision() {
  rm -f "$DIR"/principal* "$DIR/stash" "$DIR"/*.keytab "$DIR/stamp"
  kdb5_util -r "$REALM" -P "$MASTER_PW" create -s >/dev/null 2>>"$DIR/kadmin.err" || die "kdb5_util create failed"
  kadm "addprinc +requires_preauth -pw Passw0rd!Alice alice"
  kadm "addprinc +requires_preauth -pw Passw0rd!Bob bob"
  kadm "addprinc -randkey host/rpcsrv.mit.test"
  kadm "addprinc -randkey RPCSS/rpcsrv.mit.test"
  kadm "addprinc -randkey -e aes128-cts-hmac-sha1-96:normal host/aes128.mit.test"
  kadm "addprinc -randkey -maxlife 10s host/short.mit.test"
  kadm "ktadd -k $DIR/rpcsrv.keytab -norandkey host/rpcsrv.mit.test RPCSS/rpcsrv.mit.test host/aes128.mit.test host/short.mit.test"
  kadm "ktadd -k $DIR/alice.keytab -norandkey alice"
  echo "$STAMP" > "$DIR/stamp"
}

running() {
  [ -f "$DIR/krb5kdc.pid" ] && kill -0 "$(cat "$DIR/krb5kdc.pid")" 2>/dev/null
}

listening() {
  ss -ltn 2>/dev/null | grep -q "$KDC_IP:$KDC_PORT " && ss -lun 2>/dev/null | grep -q "$KDC_IP:$KDC_PORT "
}

start() {
  need_tools
  write_conf
  export KRB5_CONFIG=$DIR/krb5.conf KRB5_KDC_PROFILE=$DIR/kdc.conf
  if [ "$(cat "$DIR/stamp" 2>/dev/null)" != "$STAMP" ] || [ ! -f "$DIR/rpcsrv.keytab" ]; then
    if running; then kill "$(cat "$DIR/krb5kdc.pid")" 2>/dev/null || true; sleep 0.2; fi
    provision
    log "provisioned realm $REALM in $DIR"
  fi
  if running && listening; then
    log "already running (pid $(cat "$DIR/krb5kdc.pid"))"
    return 0
  fi
  if listening; then
    die "$KDC_IP:$KDC_PORT is taken by another process: $(ss -ltnp 2>/dev/null | grep "$KDC_IP:$KDC_PORT " | tr -s " ")"
  fi
  # -n: stay in the foreground; we background it ourselves and keep its pid
  krb5kdc -n -r "$REALM" > "$DIR/krb5kdc.out" 2>&1 &
  echo $! > "$DIR/krb5kdc.pid"
  for _ in $(seq 1 100); do
    listening && break
    running || die "krb5kdc exited: $(tail -5 "$DIR/krb5kdc.out" "$DIR/kdc.log" 2>/dev/null)"
    sleep 0.05
  done
  listening || die "krb5kdc does not listen on $KDC_IP:$KDC_PORT"
  log "MIT KDC for $REALM on $KDC_IP:$KDC_PORT tcp+udp (pid $(cat "$DIR/krb5kdc.pid"))"
}

stop() {
  if running; then
    kill "$(cat "$DIR/krb5kdc.pid")" 2>/dev/null || true
    for _ in $(seq 1 40); do running || break; sleep 0.05; done
  fi
  rm -f "$DIR/krb5kdc.pid"
}

case "$cmd" in
  start) start; env_lines ;;
  stop) stop ;;
  status) if running && listening; then echo running; else echo stopped; exit 3; fi ;;
  env) env_lines ;;
  *) echo "usage: $0 start|stop|status|env [DIR]" >&2; exit 2 ;;
esac
