#!/bin/sh
# Installs the Debian 12 packages the lab needs, idempotently (like tools/setup.sh).
# While apt-get runs, a policy-rc.d that exits 101 stops maintainer scripts from starting
# any service on the host (sshd, vsftpd, chronyd, iodined...). Afterwards it checks that no
# new process was left running on the host. Usage: lab/install.sh  (root)
set -u

pkgs="iproute2 tcpdump ethtool nftables python3 openssl curl wget rsync openssh-client
openssh-server vsftpd dnsmasq-base iodine chrony nmap masscan hping3 hydra sqlmap procps"

# shellcheck disable=SC2086
missing=$(sh "$(dirname "$0")/../tools/missing_pkgs.sh" $pkgs)
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "lab install: missing Debian packages:$missing (run as root on Debian 12)"
  exit 1
fi

prc=/usr/sbin/policy-rc.d
saved=""
if [ -e "$prc" ]; then
  saved=$(mktemp /tmp/tapir-lab-policy-rc.XXXXXX)
  cp -p "$prc" "$saved"
fi
restore() {
  if [ -n "$saved" ]; then cp -p "$saved" "$prc"; rm -f "$saved"; else rm -f "$prc"; fi
}
trap restore EXIT
trap 'exit 130' INT TERM
printf '#!/bin/sh\n# tapir lab: never start services during package installation\nexit 101\n' >"$prc"
chmod 755 "$prc"

before=$(ps -e -o comm= | sort -u)
echo "lab install: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || { echo "lab install: apt-get update failed"; exit 1; }
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
  { echo "lab install: apt-get install$missing failed"; exit 1; }

after=$(ps -e -o comm= | sort -u)
new=$(printf '%s\n' "$after" | grep -vxF -e "$before" | grep -v -e '^ps$' -e '^sort$' -e '^grep$' -e '^kworker' || true)
bad=""
for c in sshd vsftpd chronyd dnsmasq iodined nft rsync; do
  if printf '%s\n' "$new" | grep -qx "$c"; then bad="$bad $c"; fi
done
if [ -n "$bad" ]; then
  echo "lab install: WARNING: new processes left running on the host:$bad" >&2
  exit 1
fi
echo "lab install: done (no service started on the host)"
