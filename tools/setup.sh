#!/bin/sh
# Installs what Tapir needs to build and test, idempotently.
# On Debian 12 as root: apt-get installs only the missing packages (nothing when all are
# present). Elsewhere: prints exactly which packages are missing and exits 1.
# Usage: tools/setup.sh [build|test]
set -u
what=${1:-build}

build_pkgs="gcc make pkg-config libpcap-dev libndpi-dev libmaxminddb-dev libsqlite3-dev
libevent-dev libjansson-dev libinih-dev zlib1g-dev"
test_pkgs="python3 sqlite3 tcpdump tshark iproute2 iputils-ping curl clang libclang-rt-14-dev valgrind
libndpi-bin hping3"

pkgs=$build_pkgs
[ "$what" = test ] && pkgs="$build_pkgs $test_pkgs"

if ! command -v dpkg-query >/dev/null 2>&1; then
  for lib in libpcap libndpi libmaxminddb sqlite3 libevent libevent_pthreads jansson inih zlib; do
    pkg-config --exists "$lib" 2>/dev/null || echo "tapir setup: missing library: $lib (pkg-config)"
  done
  echo "tapir setup: not a Debian system; install the equivalents of: $(echo $pkgs)"
  exit 0
fi

# shellcheck disable=SC2086
missing=$(sh "$(dirname "$0")/missing_pkgs.sh" $pkgs)

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "tapir setup: missing Debian packages:$missing"
  echo "tapir setup: as root, run: apt-get install$missing"
  exit 1
fi

echo "tapir setup: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || { echo "tapir setup: apt-get update failed"; exit 1; }
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
  { echo "tapir setup: apt-get install$missing failed"; exit 1; }
echo "tapir setup: done"
