#!/bin/sh
# The demo flow (train on pcaps/baseline.pcap, replay pcaps/mixed.pcap) against the
# expected output in tests/golden/: the JSON alert log, the SQLite rows of the replay,
# `tapir model info`, the console and the alerts / hosts / blocklist commands. Both sides
# are written by tools/golden.sh, which says what it normalises and why. A difference is
# a change of behaviour: fix it, or if it is intended, regenerate with `make golden`
# (sh tools/golden.sh BUILD_DIR) and say why in the commit; never edit the files by hand.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_pcaps
need_cmd sqlite3
need_cmd diff
[ -x "$TAPIR" ] || skip "$TAPIR not built"
golden=$TAPIR_TOP/tests/golden
[ -f "$golden/alerts.json" ] || fail "no $golden/alerts.json: run make golden"

sh "$TAPIR_TOP/tools/golden.sh" -o "$tmp/got" "$TAPIR"
rc=$?
[ $rc -eq 77 ] && skip "tools/golden.sh skipped"
[ $rc -eq 0 ] || fail "tools/golden.sh exited $rc"

# The first file that differs is shown as a diff (40 lines), the others only named; the
# whole output is kept in BUILD/golden-got/ to compare at leisure.
bad=0 seen=""
for f in "$golden"/* "$tmp"/got/*; do
  name=$(basename "$f")
  [ "$name" = README.md ] && continue
  case " $seen " in *" $name "*) continue ;; esac
  seen="$seen $name"
  if [ ! -f "$golden/$name" ]; then
    echo "FAIL: $name is produced but not in tests/golden/"; bad=$((bad + 1))
  elif [ ! -f "$tmp/got/$name" ]; then
    echo "FAIL: tests/golden/$name is not produced any more"; bad=$((bad + 1))
  elif ! cmp -s "$golden/$name" "$tmp/got/$name"; then
    bad=$((bad + 1))
    if [ $bad -eq 1 ]; then
      echo "FAIL: $name differs from tests/golden/$name (- expected, + this build):"
      diff -u "$golden/$name" "$tmp/got/$name" | head -n 40
    else
      echo "FAIL: $name differs from tests/golden/$name too"
    fi
  fi
done
if [ $bad -ne 0 ]; then
  if [ -n "${TAPIR_BUILD:-}" ] && [ -d "$TAPIR_BUILD" ]; then
    rm -rf "$TAPIR_BUILD/golden-got" && cp -r "$tmp/got" "$TAPIR_BUILD/golden-got" &&
      echo "this build's output: $TAPIR_BUILD/golden-got/ (diff -ru tests/golden $TAPIR_BUILD/golden-got)"
  fi
  echo "If the change is intended, regenerate with: make golden (sh tools/golden.sh BUILD_DIR)"
  fail "$bad file(s) differ from tests/golden/"
fi
pass "$(cat "$golden"/* | wc -c) bytes of expected output matched ($(wc -l <"$golden/alerts.json") alerts)"
