#!/bin/sh
# Mail over STARTTLS to a real TLS server (docs/notifications.md): python3-aiosmtpd on
# loopback that requires STARTTLS (a mail in clear gets 530) with a self-signed
# certificate for 127.0.0.1 made here by openssl. With --smtp-ca naming that certificate
# every incident's mail arrives, each over TLS (the receiver records the session's
# cipher; a mail in clear fails the test). Without --smtp-ca the certificate is not
# trusted: nothing is delivered and the failures are counted. --smtp-ca on a missing file
# or a file without a certificate is refused at start. Receivers are stopped by PID.
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
need_pcaps
need_cmd openssl
py=/usr/bin/python3
[ -x "$py" ] || skip "python3 is not installed"
"$py" -c 'import aiosmtpd' 2>/dev/null || skip "python3-aiosmtpd is not installed"
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
recv="$TAPIR_TOP/tests/e2e/notify_recv.py"

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
  2>"$tmp/openssl.err" || { cat "$tmp/openssl.err"; fail "openssl could not make a certificate"; }
mkdir "$tmp/mail"
"$py" "$recv" smtp-tls "$tmp/mail" "$tmp/port" "$tmp/cert.pem" "$tmp/key.pem" & pids="$pids $!"
for _ in $(seq 1 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || fail "the SMTP server did not start"
url="smtp://127.0.0.1:$(cat "$tmp/port")"
"$TAPIR" train -r "$TAPIR_TOP/pcaps/baseline.pcap" -o "$tmp/model.tapir" -q --no-progress 2>/dev/null ||
  fail "train failed"
mail_run() { # ERRFILE EXTRA...
  e=$1; shift
  "$TAPIR" run -r "$TAPIR_TOP/pcaps/mixed.pcap" --model "$tmp/model.tapir" --no-progress \
    --alert-log "$tmp/alerts.json" --notify-replay --notify-email oncall@example.org \
    --smtp-url "$url" --smtp-from tapir@example.org --notify-digest 1000 --notify-attempts 1 \
    "$@" >/dev/null 2>"$e"
}

# Refused at start: a missing file, a file without a certificate.
mail_run "$tmp/err0" --smtp-ca "$tmp/none.pem" && fail "--smtp-ca on a missing file ran"
grep -q -- "--smtp-ca $tmp/none.pem: No such file" "$tmp/err0" || { cat "$tmp/err0"; fail "no clear error"; }
mail_run "$tmp/err0" --smtp-ca "$tmp/key.pem" && fail "--smtp-ca on a key ran"
grep -q "no PEM certificate" "$tmp/err0" || { cat "$tmp/err0"; fail "no clear error for a key file"; }

# Trusted: every incident mailed, over TLS.
mail_run "$tmp/err1" --smtp-ca "$tmp/cert.pem" || { cat "$tmp/err1"; fail "run exited $?"; }
n=$(grep -c '"event_type":"alert"' "$tmp/alerts.json")
[ "$n" -gt 10 ] || fail "only $n incidents"
grep -q "notify: email: $n sent, 0 failed, 0 dropped" "$tmp/err1" ||
  { grep notify "$tmp/err1"; fail "email did not send $n over TLS"; }
[ "$(ls "$tmp/mail" | grep -c '\.eml$')" = "$n" ] || fail "$(ls "$tmp/mail" | grep -c '\.eml$') mails, want $n"
for f in "$tmp/mail"/*.tls; do
  [ -s "$f" ] || fail "a mail arrived in clear ($f)"
done
cipher=$(cat "$tmp/mail/1.tls")

# Not trusted (the system's CAs do not know it): nothing delivered, in clear or not.
rm -f "$tmp/mail"/*
mail_run "$tmp/err2" || { cat "$tmp/err2"; fail "run exited $?"; }
# (failed, or dropped at exit when the failures are slow, as under the sanitizers)
grep -Eq "notify: email: 0 sent, [1-9][0-9]* failed" "$tmp/err2" ||
  { grep notify "$tmp/err2"; fail "an untrusted certificate was accepted"; }
grep -q "SSL peer certificate" "$tmp/err2" || { grep notify "$tmp/err2"; fail "not refused for its certificate"; }
[ -z "$(ls "$tmp/mail")" ] || fail "mail delivered to an untrusted server"
pass "$n mails over STARTTLS ($cipher) with --smtp-ca; none without it; bad --smtp-ca refused"
