#!/bin/sh
# A small network scores every side: trained on 15 minutes of an 8-host generated network
# (about 37 destination vectors, fewer than a full forest's 64), `tapir train` and
# `tapir model info` say which sides fell back and how, and the victim of a SYN flood is
# flagged on the destination side (before, the side was silently never trained).
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
"$TAPIR" synth --seed 3 --hosts 8 --duration 15m --no-attacks --out "$tmp/base.pcap" \
  --labels "$tmp/base.csv" >/dev/null 2>&1 || fail "synth (baseline)"
"$TAPIR" synth --seed 4 --hosts 8 --duration 20m --attacks synflood --out "$tmp/atk.pcap" \
  --labels "$tmp/atk.csv" >/dev/null 2>&1 || fail "synth (attack)"
"$TAPIR" train -r "$tmp/base.pcap" -o "$tmp/m" --no-progress 2>"$tmp/train.err" ||
  { cat "$tmp/train.err"; fail "train"; }
grep -q "destination side: [0-9]* vectors, fewer than 64: forest on samples of" "$tmp/train.err" ||
  { cat "$tmp/train.err"; fail "train does not say the destination side fell back"; }
grep -q "prefix side: [0-9]* vectors, fewer than 64: pooled with [0-9]* source vectors" \
  "$tmp/train.err" || fail "train does not say the prefix side was pooled"
"$TAPIR" model info "$tmp/m" >"$tmp/info" || fail "model info"
grep -q "^small sample: .*destination side" "$tmp/info" || fail "model info: no small-sample note"
grep -q "^section destination:" "$tmp/info" || fail "model info: no destination section"
grep -q "source vectors, pooled" "$tmp/info" || fail "model info: pooling not shown"
"$TAPIR" run -r "$tmp/atk.pcap" --model "$tmp/m" -q --no-progress --alert-log "$tmp/a.json" ||
  fail "run"
grep -q '"ip":"10.0.0.80","side":"destination"' "$tmp/a.json" ||
  fail "the SYN flood's victim 10.0.0.80 is not flagged on the destination side"
pass "small network: every side trained, flood victim flagged on the destination side"
