# Shared helpers for the e2e scripts (sourced). Each script runs in its own temp dir.
set -u
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tapir-e2e.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
skip() { echo "$*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "ok: $*"; exit 0; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || skip "$1 is not installed"; }
need_shared() { [ -n "${TAPIR_SHARED:-}" ] && [ -d "$TAPIR_SHARED/$1" ] || skip "../shared/$1 is absent"; }
# The shipped pcaps, or skip when they are not generated yet.
need_pcaps() { [ -f "$TAPIR_TOP/pcaps/mixed.pcap" ] || skip "pcaps/ not generated (make pcaps)"; }
