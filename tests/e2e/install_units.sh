#!/bin/sh
# Installation: `make install DESTDIR=...` lays out the binary, man page, systemd unit,
# rules (/etc/tapir/rules, as the README shows, and pristine copies in share/) and sample
# config; neither the config nor the rules are overwritten by a second install; the unit
# points at $(PREFIX)/bin/tapir. The man page renders without groff warnings and names
# every `tapir run` option; the sample config names only real options and parses
# (`tapir run --config` on pcaps/mixed.pcap), as shipped and with every example line
# enabled; `systemd-analyze verify` accepts the unit without a word and its exposure
# stays "OK". Parts whose tool or input is missing are skipped with a message.
. "$TAPIR_TOP/tests/e2e/lib.sh"

top=$TAPIR_TOP
skipped=""
note_skip() { echo "skip part: $*"; skipped="$skipped; $*"; }

# ---- make install ---------------------------------------------------------------------
# The build under test: SAN=1 for build-san, so `install: all` finds it already built.
san=${TAPIR_SAN:-0}
do_install() { # DESTDIR PREFIX
  make -C "$top" --no-print-directory SAN="$san" install DESTDIR="$1" PREFIX="$2" \
    >"$tmp/make.log" 2>&1 || { tail -n 20 "$tmp/make.log"; fail "make install DESTDIR=$1 PREFIX=$2"; }
}
root="$tmp/root"
do_install "$root" /usr

expect_file() { # PATH MODE
  [ -f "$1" ] || fail "not installed: ${1#"$root"}"
  m=$(stat -c %a "$1")
  [ "$m" = "$2" ] || fail "${1#"$root"}: mode $m, want $2"
}
expect_file "$root/usr/bin/tapir" 755
"$root/usr/bin/tapir" --version >/dev/null || fail "installed tapir does not run"
expect_file "$root/usr/share/man/man1/tapir.1" 644
units=0
for u in "$top"/systemd/*.service; do
  [ -f "$u" ] || continue
  units=$((units + 1))
  expect_file "$root/usr/lib/systemd/system/$(basename "$u")" 644
done
[ $units -gt 0 ] || fail "no unit in systemd/"
for r in "$top"/rules/*; do
  expect_file "$root/usr/share/tapir/rules/$(basename "$r")" 644
  expect_file "$root/etc/tapir/rules/$(basename "$r")" 644 # where the README's --rules points
done
conf="$root/etc/tapir/tapir.conf"
expect_file "$conf" 644
cmp -s "$conf" "$top/etc/tapir.conf" || fail "/etc/tapir/tapir.conf differs from etc/tapir.conf"
grep -q '^ExecStart=/usr/bin/tapir run ' "$root"/usr/lib/systemd/system/*.service ||
  fail "unit does not start /usr/bin/tapir"

# A second install keeps the administrator's config.
echo "# edited by the administrator" >>"$conf"
do_install "$root" /usr
echo "# the administrator's rules" >>"$root/etc/tapir/rules/allowlist"
do_install "$root" /usr
tail -n 1 "$conf" | grep -q "edited by the administrator" || fail "make install overwrote /etc/tapir/tapir.conf"
tail -n 1 "$root/etc/tapir/rules/allowlist" | grep -q "the administrator's rules" ||
  fail "make install overwrote /etc/tapir/rules/allowlist"

# Another PREFIX: the unit follows the binary.
do_install "$tmp/root2" /usr/local
[ -x "$tmp/root2/usr/local/bin/tapir" ] || fail "PREFIX=/usr/local: no bin/tapir"
grep -q '^ExecStart=/usr/local/bin/tapir run ' "$tmp"/root2/usr/local/lib/systemd/system/*.service ||
  fail "PREFIX=/usr/local: unit does not start /usr/local/bin/tapir"
echo "ok: install layout"

# ---- options named by --help, the man page and the config ---------------------------
"$TAPIR" run --help >"$tmp/help.txt" || fail "tapir run --help"
grep -o -- '--[a-z][a-z0-9-]*' "$tmp/help.txt" | sort -u | sed 's/^--//' >"$tmp/opts.txt"
[ "$(wc -l <"$tmp/opts.txt")" -ge 30 ] || fail "tapir run --help lists too few options"
man="$root/usr/share/man/man1/tapir.1"
while read -r o; do
  esc=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
  grep -q -- "\\\\-\\\\-$esc\\b" "$man" || fail "man page does not document --$o"
done <"$tmp/opts.txt"
echo "ok: the man page documents the $(wc -l <"$tmp/opts.txt") options of tapir run --help"

# Every key of the sample, set or shown as "#key = value", is accepted: tapir reads the
# file, then stops for want of -i or -r. A config error names the file; that one must not.
sed 's/^#\([a-z][a-z0-9-]*\) = /\1 = /' "$conf" >"$tmp/every.conf"
n=$(grep -c '^[a-z][a-z0-9-]* = ' "$tmp/every.conf")
[ "$n" -ge 30 ] || fail "etc/tapir.conf shows only $n keys"
sed '/^\(interface\|read\) = /d' "$tmp/every.conf" >"$tmp/keys.conf"
"$TAPIR" run --config "$tmp/keys.conf" >"$tmp/keys.out" 2>&1
rc=$?
if [ $rc -ne 2 ] || grep -q "keys.conf" "$tmp/keys.out"; then
  cat "$tmp/keys.out"; fail "etc/tapir.conf has a key or value tapir run refuses (exit $rc)"
fi
echo "ok: tapir run accepts all $n keys of etc/tapir.conf"

# ---- man page renders ---------------------------------------------------------------
if command -v groff >/dev/null 2>&1; then
  groff -man -Tutf8 -ww "$man" >"$tmp/man.txt" 2>"$tmp/groff.err" || fail "groff failed"
  if [ -s "$tmp/groff.err" ]; then cat "$tmp/groff.err"; fail "groff warnings in tapir.1"; fi
  for s in NAME SYNOPSIS DESCRIPTION FILES SIGNALS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
    grep -q -x "\.SH \"\{0,1\}$s\"\{0,1\}" "$man" || fail "man page has no $s section"
  done
  echo "ok: man page renders without warnings"
else
  note_skip "groff is not installed (apt-get install groff-base)"
fi

# ---- the sample config parses --------------------------------------------------------
if [ -f "$top/pcaps/mixed.pcap" ]; then
  # As shipped; the output paths on the command line win over the file's.
  "$TAPIR" run --config "$conf" -r "$top/pcaps/mixed.pcap" --db "$tmp/a.db" \
    --alert-log "$tmp/a.json" -q >"$tmp/run.out" 2>&1 ||
    { cat "$tmp/run.out"; fail "tapir run --config etc/tapir.conf"; }
  [ -s "$tmp/a.db" ] || fail "--db on the command line did not win over the config"
  [ -f "$tmp/a.json" ] || fail "--alert-log on the command line did not win over the config"
  # Every example line enabled, except those naming resources a test box does not have
  # (an interface, input files, a model, an allowlist, a user, geo databases, a token).
  grep -v -E '^(interface|read|model|allowlist|user|geoip|output|http-token-file) = ' \
    "$tmp/every.conf" >"$tmp/all.conf"
  "$TAPIR" run --config "$tmp/all.conf" -r "$top/pcaps/mixed.pcap" --db "$tmp/b.db" \
    --alert-log "$tmp/b.json" --save-model "$tmp/b.model" --flow-log "$tmp/f.csv" \
    --hosts-csv "$tmp/h.csv" --scores-csv "$tmp/s.csv" --vectors-csv "$tmp/v.csv" \
    --http 127.0.0.1:0 >"$tmp/run2.out" 2>&1 ||
    { tail -n 5 "$tmp/run2.out"; fail "tapir run with every example key of etc/tapir.conf enabled"; }
  echo "ok: sample config parses, as shipped and with every example enabled"
else
  note_skip "pcaps/mixed.pcap absent (make pcaps): config not parsed"
fi

# ---- systemd-analyze -----------------------------------------------------------------
if command -v systemd-analyze >/dev/null 2>&1; then
  mkdir -p "$tmp/units"
  for u in "$root"/usr/lib/systemd/system/*.service; do
    # Point ExecStart at the installed binary so verify can check it is executable.
    sed "s|^ExecStart=/usr/bin/tapir |ExecStart=$root/usr/bin/tapir |" "$u" >"$tmp/units/$(basename "$u")"
  done
  for u in "$tmp"/units/*.service; do
    case "$u" in *@.service) name="${u%@.service}@eth0.service" ;; *) name=$u ;; esac
    # verify exits 0 on an unknown key (only warns), so any output is a failure.
    # --man=no: the page is not installed on this machine; groff checked it above.
    (cd "$tmp/units" && systemd-analyze verify --man=no "$(basename "$name")") >"$tmp/verify.out" 2>&1 ||
      { cat "$tmp/verify.out"; fail "systemd-analyze verify $(basename "$name")"; }
    if [ -s "$tmp/verify.out" ]; then cat "$tmp/verify.out"; fail "systemd-analyze verify warns"; fi
    # Exposure (0 best .. 10): 1.8 when written; fail above 3.0 ("OK" ends at 4.9).
    if (cd "$tmp/units" && systemd-analyze security --offline=yes --threshold=30 \
        "$(basename "$name")") >"$tmp/security.out" 2>&1; then
      echo "ok: $(tail -n 1 "$tmp/security.out")"
    elif grep -q -i "unrecognized\|unknown option" "$tmp/security.out"; then
      note_skip "systemd-analyze security --offline unsupported (systemd < 252)"
    else
      grep '✗' "$tmp/security.out" | head -n 30
      fail "$(tail -n 1 "$tmp/security.out") (want at most 3.0)"
    fi
  done
  echo "ok: systemd-analyze verify"
else
  note_skip "systemd-analyze is not installed (apt-get install systemd): unit not verified"
fi

if [ -n "$skipped" ]; then
  pass "install, man page, config, unit (skipped${skipped})"
fi
pass "install layout, man page, sample config, systemd unit"
