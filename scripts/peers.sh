#!/usr/bin/env bash
# Interoperability peers for the dcom-rs tests: a Samba AD DC (DCE/RPC server, KDC, NTLM authority), Samba's
# and impacket's DCE/RPC clients, smbtorture, MIT Kerberos client tools and dumpcap/tshark.
#
# usage: scripts/peers.sh install | samba-start | samba-stop | status | env | hosts | hosts-remove
#
#   install       Debian packages (only the missing ones) and a venv with pinned impacket + pyspnego.
#                 Never leaves a samba/smbd/nmbd/winbindd/krb5kdc daemon running.
#   samba-start   /etc/hosts entries (see below), provision once (cached, re-provisioned when broken), then
#                 start `samba -F -M single` in the background and wait until its RPC ports answer.
#   samba-stop    stop the DC started by samba-start (TERM to its pid, then KILL to what is left of its tree).
#   status        what is installed, provisioned and running; exit 3 when the DC is not running.
#   env           `export NAME='value'` lines for the shell and for the Rust test-support crate.
#   hosts         only the /etc/hosts step of samba-start; hosts-remove takes our lines out again.
#
# Everything lives under ${DCOM_PEERS_DIR:-/tmp/dcom-peers}: venv/, sambadc/ (provisioned DC, krb5.conf,
# client.conf, keytabs, samba.pid, samba.log). Only loopback addresses are used:
#   127.0.0.10  dc1.samba.test     Samba AD DC (135, 88, 389, 445, 464, 636, 3268, 3269, 49152+)
#   127.0.0.20  rpcsrv.samba.test  our server under test (nothing here listens on it)
#
# Name resolution: Kerberos needs host names. We add two guarded lines (tag "# dcom-peers") to /etc/hosts
# instead of using a network namespace, because `cargo test` must reach Samba and our server from the normal
# namespace without wrapping every test binary in `ip netns exec`, and because container CI often lacks
# CAP_SYS_ADMIN. The lines only map names to loopback addresses; they are appended (never rewritten with a rename,
# so a bind-mounted /etc/hosts works) and only when the name is not already mapped to the right address.
# DCOM_PEERS_HOSTS=0 skips the step (then provide the names yourself).
#
# Runs as root on a fresh Debian 12. Every step is idempotent; a second run takes well under a second.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"   # samba, dumpcap's friends; a non-login root shell may lack them

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYDIR=$HERE/peers
DIR=${DCOM_PEERS_DIR:-/tmp/dcom-peers}
SDIR=$DIR/sambadc
VENV=$DIR/venv
SYS_PY=/usr/bin/python3   # Debian's python: the only one with the `samba` module (pyenv's python lacks it)

REALM=SAMBA.TEST
DOMAIN=SAMBA
DC_IP=127.0.0.10
DC_HOST=dc1.samba.test
SVC_IP=127.0.0.20
SVC_HOST=rpcsrv.samba.test
ADMIN_PW='Passw0rd!Adm'
# Versions measured to work together against Samba 4.17 (see /work/shared/notes/peers.md)
PIP_PINS="impacket==0.13.1 pyspnego==0.12.4 krb5==0.10.0"
# Bump when anything provisioned changes: a cached DC with another stamp is provisioned again.
PROVISION_STAMP="v1 realm=$REALM domain=$DOMAIN dc=$DC_IP svc=$SVC_HOST users=alice,bob,rpcsvc"

APT_PKGS=(samba samba-ad-dc samba-ad-provision samba-dsdb-modules samba-vfs-modules winbind krb5-user krb5-kdc krb5-admin-server libkrb5-dev gcc
  smbclient python3-samba samba-testsuite python3-gssapi python3-venv python3-pip tshark)
REQUIRED_TOOLS=(samba samba-tool smbtorture rpcclient kinit klist kvno kdestroy ktutil dumpcap tshark)
DAEMONS=(samba smbd nmbd winbindd krb5kdc kadmind)

log() { printf 'peers: %s\n' "$*" >&2; }
die() { printf 'peers: ERROR: %s\n' "$*" >&2; exit 1; }
now_ms() { local t; t=$(date +%s%N); echo $((t / 1000000)); }
secs_since() { local d=$(($(now_ms) - $1)); printf '%d.%02d s' $((d / 1000)) $((d % 1000 / 10)); }

# One lock for every state-changing command: parallel test binaries (or a person and CI) never race.
# The lock fd is closed for the daemon we start, so the lock is released when this script ends.
take_lock() {
  mkdir -p "$DIR"
  exec 9>>"$DIR/.peers.lock"
  if ! flock -w 900 9; then die "timed out waiting for $DIR/.peers.lock"; fi
}

need_root() { [ "$(id -u)" -eq 0 ] || die "$1 needs root (apt-get, /etc/hosts, ports below 1024)"; }

# pids of processes whose name is one of the DAEMONS (reads /proc, so it works without procps)
daemon_pids() {
  local f comm pid d
  for f in /proc/[0-9]*/comm; do
    comm=$(cat "$f" 2>/dev/null) || continue
    for d in "${DAEMONS[@]}"; do
      if [ "$comm" = "$d" ]; then pid=${f#/proc/}; echo "${pid%/comm} $comm"; fi
    done
  done
}

# ---------------------------------------------------------------------------------------------------- install
install_apt() {
  local missing=() p status
  for p in "${APT_PKGS[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "apt: all ${#APT_PKGS[@]} packages present"
    return 0
  fi
  need_root "installing ${missing[*]}"
  local t0 before created_policy=0
  t0=$(now_ms)
  before=$(daemon_pids | cut -d' ' -f1 | tr '\n' ' ')
  # policy-rc.d exit 101 = "do not start services": apt must not start smbd/nmbd/samba-ad-dc/krb5-kdc, which
  # would listen on every address. Docker images ship one; a fresh VM does not, so we provide one temporarily.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# temporary, scripts/peers.sh install\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  # tshark asks whether non-root users may capture: answer no without a prompt
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  log "apt: installing ${missing[*]}"
  local rc=0
  {
    DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$DIR/apt.log" 2>&1
  } || rc=$?
  if [ $created_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  if [ $rc != 0 ]; then
    tail -20 "$DIR/apt.log" >&2 || true
    die "apt-get install failed (rc $rc), log $DIR/apt.log"
  fi
  stop_new_daemons "$before" "${missing[*]}"
  log "apt: done in $(secs_since "$t0")"
}

# Whatever this package install started (nothing, thanks to policy-rc.d, but a missing policy-rc.d honoured by
# nobody must not leave smbd listening on every address) is stopped and disabled: only the daemons of packages
# installed in this run, and only processes that did not exist before it.
stop_new_daemons() {
  local before=" $1 " installed=" $2 " pid comm pkg u units=()
  case "$installed" in *" samba "*) units+=(smbd nmbd samba-ad-dc) ;; esac
  case "$installed" in *" samba-ad-dc "*) units+=(samba-ad-dc) ;; esac
  case "$installed" in *" winbind "*) units+=(winbind) ;; esac
  case "$installed" in *" krb5-kdc "*) units+=(krb5-kdc) ;; esac
  if [ ${#units[@]} -gt 0 ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    for u in "${units[@]}"; do systemctl disable --now --quiet "$u" 2>/dev/null || true; done
  fi
  while read -r pid comm; do
    [ -n "$pid" ] || continue
    case "$before" in *" $pid "*) continue ;; esac
    case "$comm" in samba) pkg=samba-ad-dc ;; smbd | nmbd) pkg=samba ;; winbindd) pkg=winbind ;;
      krb5kdc) pkg=krb5-kdc ;; *) continue ;; esac
    case "$installed" in *" $pkg "*) ;; *) continue ;; esac
    log "install: stopping $comm (pid $pid) started by the package install"
    kill "$pid" 2>/dev/null || true
  done < <(daemon_pids)
}

install_venv() {
  local t0
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.dcom-pins" 2>/dev/null)" = "$PIP_PINS" ]; then
    log "venv: $VENV has $PIP_PINS"
    return 0
  fi
  t0=$(now_ms)
  rm -rf "$VENV"
  # --system-site-packages: the venv sees Debian's python3-samba and python3-gssapi
  "$SYS_PY" -m venv --system-site-packages "$VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-input $PIP_PINS >"$DIR/pip.log" 2>&1 ||
    { tail -20 "$DIR/pip.log" >&2; die "pip install $PIP_PINS failed, log $DIR/pip.log"; }
  "$VENV/bin/python" -c 'import impacket, spnego, samba' ||
    die "venv $VENV cannot import impacket, spnego and samba"
  echo "$PIP_PINS" > "$VENV/.dcom-pins"
  log "venv: $PIP_PINS installed in $(secs_since "$t0")"
}

check_tools() {
  local t missing=()
  for t in "${REQUIRED_TOOLS[@]}"; do command -v "$t" >/dev/null || missing+=("$t"); done
  [ -x "$SYS_PY" ] || missing+=("$SYS_PY")
  [ ${#missing[@]} -eq 0 ] || die "missing after install: ${missing[*]}"
}

cmd_install() {
  take_lock
  local t0; t0=$(now_ms)
  install_apt
  check_tools
  install_venv
  log "install: ok in $(secs_since "$t0")"
}

# ------------------------------------------------------------------------------------------------------ hosts
# Prints the address /etc/hosts gives NAME first (empty if none). Reads the file: no DNS query can hang.
hosts_addr() {
  awk -v n="$1" '{ sub(/#.*/, "") } { for (i = 2; i <= NF; i++) if ($i == n) { print $1; exit } }' /etc/hosts
}

ensure_hosts() {
  [ "${DCOM_PEERS_HOSTS:-1}" = 1 ] || { log "hosts: skipped (DCOM_PEERS_HOSTS=${DCOM_PEERS_HOSTS})"; return 0; }
  local pair ip name cur
  for pair in "$DC_IP $DC_HOST dc1" "$SVC_IP $SVC_HOST rpcsrv"; do
    read -r ip name _ <<<"$pair"
    cur=$(hosts_addr "$name")
    if [ "$cur" = "$ip" ]; then continue; fi
    [ -z "$cur" ] || die "/etc/hosts maps $name to $cur, expected $ip: fix that line by hand"
    need_root "adding '$pair' to /etc/hosts"
    printf '%s # dcom-peers (scripts/peers.sh)\n' "$pair" >> /etc/hosts
    log "hosts: added '$pair' to /etc/hosts"
  done
}

cmd_hosts_remove() {
  take_lock
  grep -q '# dcom-peers' /etc/hosts || { log "hosts: no dcom-peers lines"; return 0; }
  local kept; kept=$(grep -v '# dcom-peers' /etc/hosts)
  printf '%s\n' "$kept" > /etc/hosts   # truncate in place: /etc/hosts may be a bind mount
  log "hosts: removed the dcom-peers lines"
}

# ------------------------------------------------------------------------------------------- client configs
write_client_files() {
  mkdir -p "$SDIR/clientstate"
  # MIT and Heimdal client config: the KDC by address, never DNS (no SRV lookups, no reverse lookups)
  cat > "$SDIR/krb5.conf.tmp" <<EOF
# written by scripts/peers.sh
[libdefaults]
	default_realm = $REALM
	dns_lookup_realm = false
	dns_lookup_kdc = false
	rdns = false
	dns_canonicalize_hostname = false
	udp_preference_limit = 0
	default_ccache_name = FILE:$SDIR/krb5cc
[realms]
	$REALM = {
		kdc = $DC_IP
		admin_server = $DC_IP
		kpasswd_server = $DC_IP
	}
[domain_realm]
	.samba.test = $REALM
	samba.test = $REALM
EOF
  mv -f "$SDIR/krb5.conf.tmp" "$SDIR/krb5.conf"
  # smb.conf for Samba's client side (python samba, rpcclient, smbtorture): no NetBIOS, names from /etc/hosts,
  # its own state directories (never /var/lib/samba)
  cat > "$SDIR/client.conf.tmp" <<EOF
# written by scripts/peers.sh
[global]
	workgroup = $DOMAIN
	realm = $REALM
	security = ads
	name resolve order = host
	disable netbios = yes
	client min protocol = SMB2
	log level = 0
	lock directory = $SDIR/clientstate
	state directory = $SDIR/clientstate
	cache directory = $SDIR/clientstate
	private dir = $SDIR/clientstate
	pid directory = $SDIR/clientstate
	ncalrpc dir = $SDIR/clientstate/ncalrpc
EOF
  mv -f "$SDIR/client.conf.tmp" "$SDIR/client.conf"
}

q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

print_env() {
  local kv
  for kv in \
    "DCOM_PEERS_DIR=$DIR" \
    "DCOM_PEERS_SCRIPTS=$PYDIR" \
    "DCOM_PYTHON=$VENV/bin/python" \
    "DCOM_SYSTEM_PYTHON=$SYS_PY" \
    "KRB5_CONFIG=$SDIR/krb5.conf" \
    "KRB5CCNAME=$SDIR/krb5cc" \
    "SAMBA_CLIENT_CONF=$SDIR/client.conf" \
    "SAMBA_SMB_CONF=$SDIR/etc/smb.conf" \
    "SAMBA_DC_IP=$DC_IP" \
    "SAMBA_DC_HOST=$DC_HOST" \
    "SAMBA_REALM=$REALM" \
    "SAMBA_DOMAIN=$DOMAIN" \
    "SAMBA_PID_FILE=$SDIR/samba.pid" \
    "SAMBA_LOG=$SDIR/samba.log" \
    "RPCSRV_IP=$SVC_IP" \
    "RPCSRV_HOST=$SVC_HOST" \
    "RPCSRV_KEYTAB=$SDIR/rpcsrv.keytab" \
    "DCOM_ALL_KEYTAB=$SDIR/all.keytab"; do
    printf 'export %s=%s\n' "${kv%%=*}" "$(q "${kv#*=}")"
  done
}

# -------------------------------------------------------------------------------------------------- provision
provision_ok() {
  [ "$(cat "$SDIR/.provisioned" 2>/dev/null)" = "$PROVISION_STAMP" ] &&
    [ -s "$SDIR/etc/smb.conf" ] && [ -s "$SDIR/private/sam.ldb" ] &&
    [ -s "$SDIR/rpcsrv.keytab" ] && [ -s "$SDIR/all.keytab" ]
}

provision() {
  local t0; t0=$(now_ms)
  stop_samba quiet
  # keep the client files (just written), drop everything else
  find "$SDIR" -mindepth 1 -maxdepth 1 ! -name krb5.conf ! -name client.conf ! -name clientstate \
    -exec rm -rf {} +
  log "provision: samba-tool domain provision in $SDIR"
  # interfaces = IP/8: Samba only binds addresses it finds on an interface; 127.0.0.10/8 matches lo's
  # 127.0.0.1/8 and, with "bind interfaces only", Samba binds exactly 127.0.0.10 (lo needs no extra address).
  # Services we do not need are off (dns: no forwarder to the host's resolver; nbt: no NetBIOS broadcasts).
  if ! samba-tool domain provision --targetdir="$SDIR" --realm="$REALM" --domain="$DOMAIN" \
    --server-role=dc --dns-backend=SAMBA_INTERNAL --adminpass="$ADMIN_PW" \
    --host-name=dc1 --host-ip="$DC_IP" \
    --option="interfaces = $DC_IP/8" \
    --option="bind interfaces only = yes" \
    --option="server services = -dns -dnsupdate -nbt -wrepl -kcc -ntp_signd -drepl" \
    --option="disable netbios = yes" \
    --option="smb ports = 445" \
    --option="dns update command = /bin/true" \
    --option="spn update command = /bin/true" \
    --option="allow dcerpc auth level connect = yes" \
    --option="log file = $SDIR/log.%m" \
    --option="pid directory = $SDIR/run" \
    --option="ncalrpc dir = $SDIR/run/ncalrpc" \
    --option="winbindd socket directory = $SDIR/run/winbindd" \
    --option="ntp signd socket directory = $SDIR/run/ntp_signd" \
    >"$SDIR/provision.log" 2>&1; then
    tail -20 "$SDIR/provision.log" >&2
    die "samba-tool domain provision failed, log $SDIR/provision.log"
  fi
  # provision copies the host's nameserver into "dns forwarder": drop it (and the dns service is off anyway)
  sed -i '/^[[:space:]]*dns forwarder[[:space:]]*=/d' "$SDIR/etc/smb.conf"
  mkdir -p "$SDIR/run"
  log "provision: domain in $(secs_since "$t0"); adding accounts"
  "$SYS_PY" "$PYDIR/provision_accounts.py" --conf "$SDIR/etc/smb.conf" --out "$SDIR" --service-host "$SVC_HOST" \
    >>"$SDIR/provision.log" 2>&1 ||
    { tail -20 "$SDIR/provision.log" >&2; die "adding accounts failed, log $SDIR/provision.log"; }
  echo "$PROVISION_STAMP" > "$SDIR/.provisioned"
  log "provision: done in $(secs_since "$t0")"
}

# ---------------------------------------------------------------------------------------------- samba daemon
samba_pid() {
  local pid
  pid=$(cat "$SDIR/samba.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = samba ] || return 1
  echo "$pid"
}

# pid and every descendant of pid (smbd and winbindd leave samba's process group and session)
proc_tree() {
  local f line rest
  for f in /proc/[0-9]*/stat; do
    line=$(cat "$f" 2>/dev/null) || continue
    rest=${line##*) }                      # after "pid (comm) ": state ppid ...
    set -- $rest
    printf '%s %s\n' "${f//[^0-9]/}" "$2"
  done | awk -v root="$1" '{ parent[$1] = $2 } END {
    keep[root] = 1; print root
    do { added = 0; for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; print p; added = 1 } }
    while (added) }'
}

stop_samba() {
  local pid i tree
  if ! pid=$(samba_pid); then
    rm -f "$SDIR/samba.pid"
    [ "${1:-}" = quiet ] || log "samba: not running"
    return 0
  fi
  tree=$(proc_tree "$pid" | tr '\n' ' ')
  kill "$pid" 2>/dev/null || true    # the root process ends its children
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  # whatever is left of the tree we started
  # shellcheck disable=SC2086
  kill -KILL $tree 2>/dev/null || true
  rm -f "$SDIR/samba.pid"
  log "samba: stopped pid $pid (tree: $tree)"
}

wait_ready() {
  "$SYS_PY" "$PYDIR/wait_listen.py" --ip "$DC_IP" --ports 135,88,389,445 --dynamic 3 --timeout 90 \
    --pid "$1" --log "$SDIR/samba.log"
}

start_samba() {
  local pid
  # -F: foreground (no daemonizing, so $! is the root process) with debug output to stdout, -M single: the
  # fewest processes. Not -i: interactive mode ends samba on EOF on stdin, and a never-closing stdin would
  # need a helper process that outlives us. setsid: own session and process group, so samba outlives the
  # caller and samba-stop can end the whole group. No inherited descriptors: stdin /dev/null, output to the
  # log, 9>&- (our lock), so a caller reading our stdout/stderr through pipes is not kept waiting.
  setsid samba -F --debug-stdout -M single -s "$SDIR/etc/smb.conf" -d 1 \
    </dev/null >"$SDIR/samba.log" 2>&1 9>&- &
  pid=$!
  echo "$pid" > "$SDIR/samba.pid"
  wait_ready "$pid"
}

cmd_samba_start() {
  take_lock
  local t0 pid; t0=$(now_ms)
  for t in samba samba-tool; do command -v "$t" >/dev/null || die "$t not installed: run scripts/peers.sh install"; done
  ensure_hosts
  write_client_files
  if pid=$(samba_pid); then
    log "samba: already running, pid $pid"
    wait_ready "$pid" >/dev/null
    return 0
  fi
  if "$SYS_PY" "$PYDIR/wait_listen.py" --ip "$DC_IP" --ports 135 --timeout 0 >/dev/null 2>&1; then
    die "something else already listens on $DC_IP:135 (another Samba? /tmp/peers from the shared scripts?)"
  fi
  need_root "starting the Samba DC"
  local cached=0
  if provision_ok; then cached=1; else provision; fi
  local ts; ts=$(now_ms)
  if ! start_samba; then
    stop_samba quiet
    [ $cached = 1 ] || die "samba did not start, log $SDIR/samba.log"
    log "samba: the cached provision did not start: provisioning again"
    provision
    ts=$(now_ms)
    start_samba || { stop_samba quiet; die "samba did not start, log $SDIR/samba.log"; }
  fi
  log "samba: up, pid $(cat "$SDIR/samba.pid"), started in $(secs_since "$ts"), samba-start took $(secs_since "$t0")"
}

cmd_samba_stop() {
  take_lock
  stop_samba
}

cmd_status() {
  local rc=0 pid
  echo "state dir:  $DIR"
  if [ "$(cat "$VENV/.dcom-pins" 2>/dev/null)" = "$PIP_PINS" ]; then echo "venv:       $VENV ($PIP_PINS)"
  else echo "venv:       missing (scripts/peers.sh install)"; fi
  if provision_ok; then echo "provision:  $SDIR ($(cat "$SDIR/.provisioned"))"
  else echo "provision:  none"; fi
  echo "hosts:      $DC_HOST -> $(hosts_addr "$DC_HOST" || true), $SVC_HOST -> $(hosts_addr "$SVC_HOST" || true)"
  if pid=$(samba_pid); then
    echo "samba:      running, pid $pid, log $SDIR/samba.log"
  else
    echo "samba:      not running"
    rc=3
  fi
  "$SYS_PY" "$PYDIR/wait_listen.py" --ip "$DC_IP" --list || true
  return $rc
}

case "${1:-}" in
  install) cmd_install ;;
  samba-start) cmd_samba_start ;;
  samba-stop) cmd_samba_stop ;;
  status) cmd_status ;;
  env) print_env ;;
  hosts) take_lock; ensure_hosts ;;
  hosts-remove) cmd_hosts_remove ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
