#!/bin/bash
# One benign host's habits, run inside its lab namespace by lab/run.sh:
#   ip netns exec tl-NAME timeout ... bash lab/agent.sh ROLE NAME SEED END
# Every loop stops at END (epoch seconds) and after a fixed number of rounds; every
# command has its own timeout. Timings come from bash's RANDOM seeded with SEED, so a
# run is repeatable up to the network's own timing. Needs LAB_W (the lab's work dir).
set -u
role=$1 name=$2 seed=$3 END=$4
W=${LAB_W:?}
RANDOM=$seed
CA="$W/ca/ca.pem"
UA_LIST=("Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0"
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 13_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Safari/605.1.15")
UA=${UA_LIST[$((seed % 3))]}
SSH=(ssh -F "$W/ssh/client_config")
MAXROUNDS=2000

now() { date +%s; }
left() { echo $((END - $(now))); }
rnd() { echo $((RANDOM % ($2 - $1 + 1) + $1)); }   # rnd LO HI
# nap SECONDS: sleep, but never past END
nap() {
  local l; l=$(left)
  [ "$l" -le 0 ] && return 1
  [ "$1" -lt "$l" ] && l=$1
  sleep "$l"
  [ "$(left)" -gt 0 ]
}
web() { timeout 40 curl -s -o /dev/null -m 30 --cacert "$CA" -A "$UA" "$@" 2>/dev/null; }
lookup() { timeout 10 getent ahosts "$1" >/dev/null 2>&1; }

INTERNAL_PAGES=(http://www.corp.lab/ https://www.corp.lab/ https://intranet.corp.lab/doc/ http://www.corp.lab/news/)
EXTERNAL_SITES=(https://www.news-site.test http://www.news-site.test https://shop.example-store.test
  http://cdn.fastassets.test https://cdn.fastassets.test https://updates.vendor.test)

browse_internal() {
  local base=${INTERNAL_PAGES[$((RANDOM % ${#INTERNAL_PAGES[@]}))]} i n
  n=$(rnd 1 5)
  for ((i = 0; i < n; i++)); do
    web "${base}$(rnd 1 400)"
    [ $((RANDOM % 3)) = 0 ] && web "${base%/*}/static/img$(rnd 1 50).png?kb=$(rnd 5 120)"
    sleep "0.$(rnd 1 9)"
  done
  [ $((RANDOM % 6)) = 0 ] && web "http://www.corp.lab/app?id=$(rnd 1 59)"
  return 0
}

browse_external() {
  local site=${EXTERNAL_SITES[$((RANDOM % ${#EXTERNAL_SITES[@]}))]} i n
  n=$(rnd 1 6)
  for ((i = 0; i < n; i++)); do
    web "$site/page/$(rnd 1 900)"
    if [ $((RANDOM % 2)) = 0 ]; then
      # CDN-style hashed names: many distinct DNS names
      web "https://a$(rnd 1000 99999).cdn.fastassets.test/static/asset$(rnd 1 999).js?kb=$(rnd 2 60)"
    fi
    sleep "0.$(rnd 1 9)"
  done
  return 0
}

ssh_work() {
  local host=${1:-ssh.corp.lab} port=${2:-22} t
  t=$(rnd 2 40)
  timeout $((t + 30)) "${SSH[@]}" -p "$port" "$host" \
    "uname -a; uptime; df -h >/dev/null; ls -la /usr/share/doc | head -$(rnd 20 200); sleep $t;
     find /usr/share/man -name '*.gz' 2>/dev/null | head -$(rnd 50 500) | wc -l;
     head -c $(rnd 10 400)000 /usr/share/common-licenses/GPL-3 2>/dev/null | wc -c" >/dev/null 2>&1
  return 0
}

scp_get() {
  timeout 60 scp -F "$W/ssh/client_config" -q "ssh.corp.lab:/usr/share/common-licenses/GPL-3" /dev/null 2>/dev/null
  return 0
}

ftp_get() {
  local f
  case $((RANDOM % 4)) in
    0) f=pub/firmware-1.2.bin ;; 1) f=pub/dataset.csv ;; 2) f=pub/README.txt ;; *) f=pub/manual.pdf ;;
  esac
  lookup ftp.corp.lab
  timeout 60 curl -s -o /dev/null -m 50 "ftp://ftp.corp.lab/$f" 2>/dev/null
  return 0
}

dns_burst() {
  local i n names=(www.corp.lab intranet.corp.lab ssh.corp.lab ftp.corp.lab backup.corp.lab
    www.news-site.test shop.example-store.test updates.vendor.test mail.corp.lab wiki.corp.lab
    printer.corp.lab nosuchhost.corp.lab)
  n=$(rnd 2 8)
  for ((i = 0; i < n; i++)); do lookup "${names[$((RANDOM % ${#names[@]}))]}"; done
  return 0
}

ntp_query() {
  # A query only: chronyd -Q measures the offset and exits, never touching the clock.
  local conf="$W/run/chrony-q-$name.conf"
  printf 'server ntp.corp.lab iburst\ncmdport 0\npidfile %s\n' "$W/run/chrony-q-$name.pid" >"$conf"
  timeout 20 chronyd -Q -f "$conf" -t 10 >/dev/null 2>&1
  return 0
}

# --- roles ---------------------------------------------------------------------------

# Workstation: a mix of habits, weighted per host (the weights come from the seed), plus
# the periodic side tasks every desktop has: NTP every 64 s, an update check every ~5 min.
workstation() {
  local w_int w_ext w_ssh w_ftp w_dns w_idle total r round=0 next_ntp next_upd
  w_int=$(rnd 1 6) w_ext=$(rnd 1 6) w_ssh=$(rnd 0 4) w_ftp=$(rnd 0 2) w_dns=$(rnd 1 3) w_idle=$(rnd 1 4)
  total=$((w_int + w_ext + w_ssh + w_ftp + w_dns + w_idle))
  next_ntp=$(($(now) + $(rnd 1 60)))
  next_upd=$(($(now) + $(rnd 10 300)))
  while [ $round -lt $MAXROUNDS ] && [ "$(left)" -gt 0 ]; do
    round=$((round + 1))
    if [ "${DO_NTP:-1}" = 1 ] && [ "$(now)" -ge $next_ntp ]; then ntp_query; next_ntp=$((next_ntp + 64)); fi
    if [ "$(now)" -ge $next_upd ]; then
      web "https://updates.vendor.test/check?host=$name&v=12.4.$(rnd 0 1)"
      [ $((RANDOM % 5)) = 0 ] && web "https://updates.vendor.test/static/pkg-$(rnd 1 30).deb?kb=$(rnd 500 3000)"
      next_upd=$((next_upd + $(rnd 240 360)))
    fi
    r=$((RANDOM % total))
    if [ $r -lt $w_int ]; then lookup www.corp.lab; browse_internal
    elif [ $r -lt $((w_int + w_ext)) ]; then browse_external
    elif [ $r -lt $((w_int + w_ext + w_ssh)) ]; then
      if [ $((RANDOM % 4)) = 0 ]; then scp_get; else ssh_work; fi
    elif [ $r -lt $((w_int + w_ext + w_ssh + w_ftp)) ]; then ftp_get
    elif [ $r -lt $((w_int + w_ext + w_ssh + w_ftp + w_dns)) ]; then dns_burst
    else nap "$(rnd 20 90)" || break
    fi
    nap "$(rnd 3 30)" || break
  done
}

# A deploy/cron box: a short SSH job every 20-40 s to the same server (many short,
# similar, successful sessions: what brute force looks like from far away).
automation() {
  local round=0
  while [ $round -lt $MAXROUNDS ] && [ "$(left)" -gt 0 ]; do
    round=$((round + 1))
    timeout 30 "${SSH[@]}" ssh.corp.lab "hostname; cat /proc/loadavg; ls /tmp | wc -l" >/dev/null 2>&1
    [ $((round % 10)) = 0 ] && browse_internal
    nap "$(rnd 20 40)" || break
  done
}

# Monitoring poller: /health every 10 s on two web servers, ping and TCP checks every
# 30 s, DNS check every 60 s. Very regular, on purpose.
monitor() {
  local round=0 h
  while [ $round -lt $MAXROUNDS ] && [ "$(left)" -gt 0 ]; do
    round=$((round + 1))
    timeout 8 curl -s -o /dev/null -m 5 http://10.10.0.10/health
    timeout 8 curl -s -o /dev/null -m 5 http://10.10.0.20:8080/health
    if [ $((round % 3)) = 1 ]; then
      for h in 10.10.0.11 10.10.0.12 10.10.0.53 10.10.0.123 10.10.0.30 10.10.0.80; do
        timeout 3 ping -n -q -c 1 -W 1 "$h" >/dev/null 2>&1
      done
      timeout 3 bash -c 'exec 3<>/dev/tcp/10.10.0.11/22' 2>/dev/null
      timeout 3 bash -c 'exec 3<>/dev/tcp/10.10.0.12/21' 2>/dev/null
      timeout 3 curl -s -o /dev/null -m 2 https://10.10.0.80/health --cacert "$CA" 2>/dev/null
    fi
    [ $((round % 6)) = 1 ] && lookup www.corp.lab
    [ $((round % 6)) = 2 ] && ntp_query
    nap 10 || break
  done
}

# A server: NTP every 64 s, an update check every ~10 min, and its nightly backup at
# BACKUP_AT (epoch seconds): a large upload to the internal backup server.
server() {
  local round=0 next_ntp next_upd done_backup=0
  next_ntp=$(($(now) + $(rnd 1 64)))
  next_upd=$(($(now) + $(rnd 30 600)))
  while [ $round -lt $MAXROUNDS ] && [ "$(left)" -gt 0 ]; do
    round=$((round + 1))
    if [ "$(now)" -ge $next_ntp ]; then ntp_query; next_ntp=$((next_ntp + 64)); fi
    if [ "$(now)" -ge $next_upd ]; then
      web "https://updates.vendor.test/check?host=$name&v=12.4.1"
      next_upd=$((next_upd + $(rnd 540 660)))
    fi
    if [ $done_backup = 0 ] && [ -n "${BACKUP_AT:-}" ] && [ "$(now)" -ge "$BACKUP_AT" ]; then
      done_backup=1
      case ${BACKUP_HOW:-put} in
        put) lookup backup.corp.lab
             timeout 300 curl -s -o /dev/null -m 280 -T "$W/data/$name-backup.tar" \
               "http://backup.corp.lab:8080/upload/$name-$(date +%Y%m%d).tar" ;;
        rsync) timeout 300 rsync -a -e "ssh -F $W/ssh/client_config" "$W/data/$name-backup.tar" \
               "backup.corp.lab:$W/store/" 2>/dev/null ;;
      esac
    fi
    nap 5 || break
  done
}

# An external visitor of the company's public web servers (HTTP and HTTPS).
visitor() {
  local round=0 i n base
  while [ $round -lt $MAXROUNDS ] && [ "$(left)" -gt 0 ]; do
    round=$((round + 1))
    case $((RANDOM % 3)) in
      0) base=https://www.corp.lab ;; 1) base=http://www.corp.lab ;; *) base=https://pub.corp.lab ;;
    esac
    lookup "${base#*//}"
    n=$(rnd 1 8)
    for ((i = 0; i < n; i++)); do
      web "$base/page/$(rnd 1 300)"
      [ $((RANDOM % 2)) = 0 ] && web "$base/static/style$(rnd 1 9).css?kb=$(rnd 2 40)"
    done
    nap "$(rnd 5 45)" || break
  done
}

# An external administrator: now and then an SSH session on the non-standard port 2222.
admin() {
  local round=0
  nap "$(rnd 5 60)" || return 0
  while [ $round -lt $MAXROUNDS ] && [ "$(left)" -gt 0 ]; do
    round=$((round + 1))
    ssh_work 10.10.0.11 2222
    nap "$(rnd 60 200)" || break
  done
}

# A home host behind the NAT gateway: browsing outside, update checks, DNS.
home() {
  local round=0 next_upd
  next_upd=$(($(now) + $(rnd 10 300)))
  while [ $round -lt $MAXROUNDS ] && [ "$(left)" -gt 0 ]; do
    round=$((round + 1))
    if [ "$(now)" -ge $next_upd ]; then
      web "https://updates.vendor.test/check?host=$name"; next_upd=$((next_upd + $(rnd 240 360)))
    fi
    case $((RANDOM % 4)) in
      0|1) browse_external ;; 2) dns_burst ;; *) browse_internal ;;
    esac
    nap "$(rnd 5 40)" || break
  done
}

case $role in
  workstation|automation|monitor|server|visitor|admin|home) "$role" ;;
  *) echo "agent.sh: unknown role $role" >&2; exit 2 ;;
esac
exit 0
