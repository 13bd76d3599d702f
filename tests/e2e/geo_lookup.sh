#!/bin/sh
# Geolocation (sensor/geo.c) through tools/geo_check, against databases this script writes
# with tools/mkmmdb.py in three layouts and three record sizes: GeoLite2-style
# country.iso_code (with registered_country as fallback), ASN-style
# autonomous_system_number/organization, and ip-location-db's top-level country_code.
# Checks: country from each layout, ASN and AS organisation merged from a second
# database, IPv6, reserved addresses never looked up even where a database maps them,
# the cache (hits counted, a collision only costs a re-lookup), no database, fields of
# the wrong type or shape, strings cleaned but UTF-8 kept, clear errors at geo_create.
# With ../shared: MaxMind's test databases, the world-wide ip-location-db country file and
# the two corrupt databases (a clear error or counted errors, never a crash).
# geo_check prints, per IP: IP CC ASN lookups= hits= errors= org= (counters after it).
set -u
. "$TAPIR_TOP/tests/e2e/lib.sh"
gc="$TAPIR_BUILD/tools/geo_check"
[ -x "$gc" ] || fail "$gc is not built (make test-build)"
py=/usr/bin/python3
[ -x "$py" ] || skip "$py is absent (tools/mkmmdb.py needs it)"

mk() { # OUT [mkmmdb.py options...], the JSON on stdin
  out=$1; shift
  "$py" "$TAPIR_TOP/tools/mkmmdb.py" --build-epoch 1700000000 "$@" - "$out" ||
    fail "mkmmdb.py $* $out"
}
# expect NAME GEO_CHECK_ARGS... with the expected output on stdin.
expect() {
  name=$1; shift
  cat >"$tmp/want"
  "$gc" "$@" >"$tmp/got" 2>"$tmp/err"
  rc=$?
  [ $rc -eq 0 ] || { cat "$tmp/got" "$tmp/err"; fail "$name: geo_check exited $rc"; }
  diff -u "$tmp/want" "$tmp/got" || fail "$name: unexpected answers (- wanted, + got)"
  echo "ok: $name"
}
# expect_error NAME TEXT GEO_CHECK_ARGS...: geo_create fails (exit 2) saying TEXT.
expect_error() {
  name=$1 text=$2; shift 2
  "$gc" "$@" >"$tmp/got" 2>"$tmp/err"
  rc=$?
  [ $rc -eq 2 ] || { cat "$tmp/got" "$tmp/err"; fail "$name: exit $rc, wanted 2"; }
  grep -qF -- "$text" "$tmp/err" || { cat "$tmp/err"; fail "$name: error lacks \"$text\""; }
  echo "ok: $name: $(cat "$tmp/err")"
}

# ---------------------------------------------------------------- the databases
# GeoLite2 layout, 28-bit records, strings shared through pointers. Maps reserved ranges
# too (as real files do) to show they are never asked.
mk "$tmp/country.mmdb" --record-size 28 <<'EOF'
{"database_type": "Tapir-Test-Country", "networks": {
  "81.2.69.0/24": {"country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
                   "registered_country": {"iso_code": "GB"}},
  "81.2.69.160/27": {"country": {"iso_code": "GB"}, "registered_country": {"iso_code": "FR"}},
  "67.43.156.0/24": {"registered_country": {"iso_code": "BT"}},
  "175.16.199.0/24": {"country": {"iso_code": "CN", "names": {"en": "China"}}},
  "89.160.20.112/28": {"country": {"iso_code": "SE"}},
  "2001:4860::/32": {"country": {"iso_code": "US", "names": {"en": "United States"}}},
  "2a00:1450::/32": {"country": {"iso_code": "IE"}},
  "5.6.7.0/24": {"country": {"iso_code": {"$uint16": 5}}, "autonomous_system_number": "64500",
                 "autonomous_system_organization": {"$uint32": 7}},
  "5.6.8.0/24": {"country": {"iso_code": "GBR"}},
  "5.6.9.0/24": {"country": "GB", "country_code": "DE"},
  "10.0.0.0/8": {"country": {"iso_code": "US"}},
  "100.64.0.0/10": {"country": {"iso_code": "US"}},
  "127.0.0.0/8": {"country": {"iso_code": "US"}},
  "169.254.0.0/16": {"country": {"iso_code": "US"}},
  "172.16.0.0/12": {"country": {"iso_code": "US"}},
  "192.168.0.0/16": {"country": {"iso_code": "US"}},
  "fe80::/10": {"country": {"iso_code": "US"}},
  "fd00::/8": {"country": {"iso_code": "US"}}
}}
EOF
# ASN layout, 24-bit records, no pointers; the ASN as uint32, uint16 and uint64.
mk "$tmp/asn.mmdb" --record-size 24 --no-pointers <<'EOF'
{"database_type": "Tapir-Test-ASN", "networks": {
  "1.128.0.0/11": {"autonomous_system_number": 1221,
                   "autonomous_system_organization": "Telstra Pty Ltd"},
  "81.2.69.0/24": {"autonomous_system_number": 20712,
                   "autonomous_system_organization": "Andrews & Arnold Ltd"},
  "89.160.20.112/28": {"autonomous_system_number": {"$uint16": 3301},
                       "autonomous_system_organization": "Telia Company AB"},
  "2.125.160.0/19": {"autonomous_system_number": {"$uint64": 4200000000},
                     "autonomous_system_organization": "Telefónica de España"},
  "31.64.0.0/16": {"autonomous_system_number": 64501,
                   "autonomous_system_organization": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAéxyz"},
  "5.6.10.0/24": {"autonomous_system_number": 64502,
                  "autonomous_system_organization": "Evil\u0007Org\nX\u007f"},
  "2001:4860::/32": {"autonomous_system_number": 15169,
                     "autonomous_system_organization": "Google LLC"},
  "10.0.0.0/8": {"autonomous_system_number": 64512,
                 "autonomous_system_organization": "Private"}
}}
EOF
# ip-location-db layout (top-level country_code only), 32-bit records.
mk "$tmp/iplocdb.mmdb" --record-size 32 <<'EOF'
{"database_type": "ip-location-db-test", "networks": [
  ["8.8.8.0/24", {"country_code": "US"}],
  ["89.160.20.112/28", {"country_code": "SE"}],
  ["193.0.0.0/21", {"country_code": "NL"}],
  ["2001:67c:2e8::/48", {"country_code": "NL"}],
  ["10.0.0.0/8", {"country_code": "AU"}],
  ["172.16.0.0/12", {"country_code": "AU"}],
  ["192.168.0.0/16", {"country_code": "AU"}]
]}
EOF
# An IPv4-only tree (ip_version 4): IPv6 addresses are simply not in it.
echo '{"networks": {"8.8.8.0/24": {"country_code": "US"}}}' | mk "$tmp/v4only.mmdb" --ip-version 4

# The writer's output, read back by libmaxminddb's own tool (not by geo.c).
# mmdb_has DB IP WANT PATH...: mmdblookup finds the string WANT at PATH.
mmdb_has() {
  db=$1 ip=$2 want=$3; shift 3
  mmdblookup --file "$tmp/$db" --ip "$ip" "$@" 2>&1 | grep -qF "\"$want\"" ||
    fail "mmdblookup $db $ip $*: wanted $want, got: $(mmdblookup --file "$tmp/$db" --ip "$ip" "$@" 2>&1)"
}
if command -v mmdblookup >/dev/null 2>&1; then
  mmdb_has country.mmdb 81.2.69.142 GB country iso_code
  mmdb_has country.mmdb 10.1.2.3 US country iso_code
  mmdb_has country.mmdb ::ffff:175.16.199.1 CN country iso_code
  mmdb_has country.mmdb fd00::1 US country iso_code
  mmdb_has asn.mmdb 1.128.0.1 "Telstra Pty Ltd" autonomous_system_organization
  mmdb_has iplocdb.mmdb 192.168.1.1 AU country_code
  mmdb_has iplocdb.mmdb 2001:67c:2e8::2 NL country_code
  mmdb_has v4only.mmdb 8.8.8.8 US country_code
  echo "ok: mmdblookup reads what mkmmdb.py wrote"
else
  echo "skipped: mmdblookup is not installed (cross-check of mkmmdb.py's output)"
fi

# ---------------------------------------------------------------- layouts, merge, IPv6
expect "GeoLite2 layout; registered_country when country is absent; IPv6" \
  "$tmp/country.mmdb" -- 81.2.69.142 81.2.69.170 67.43.156.1 175.16.199.1 2001:4860:4860::8888 \
  2a00:1450:4001:82b::2004 8.8.8.8 <<'EOF'
81.2.69.142 GB - lookups=1 hits=0 errors=0 org=-
81.2.69.170 GB - lookups=2 hits=0 errors=0 org=-
67.43.156.1 BT - lookups=3 hits=0 errors=0 org=-
175.16.199.1 CN - lookups=4 hits=0 errors=0 org=-
2001:4860:4860::8888 US - lookups=5 hits=0 errors=0 org=-
2a00:1450:4001:82b::2004 IE - lookups=6 hits=0 errors=0 org=-
8.8.8.8 - - lookups=7 hits=0 errors=0 org=-
EOF
expect "ip-location-db layout (top-level country_code)" \
  "$tmp/iplocdb.mmdb" -- 8.8.8.8 89.160.20.113 193.0.6.139 2001:67c:2e8::2 1.1.1.1 <<'EOF'
8.8.8.8 US - lookups=1 hits=0 errors=0 org=-
89.160.20.113 SE - lookups=2 hits=0 errors=0 org=-
193.0.6.139 NL - lookups=3 hits=0 errors=0 org=-
2001:67c:2e8::2 NL - lookups=4 hits=0 errors=0 org=-
1.1.1.1 - - lookups=5 hits=0 errors=0 org=-
EOF
expect "ASN layout; ASN stored as uint32, uint16, uint64; one lookup asks every database" \
  "$tmp/country.mmdb" "$tmp/asn.mmdb" -- 81.2.69.142 1.128.0.1 89.160.20.113 2.125.160.217 \
  2001:4860:4860::8888 175.16.199.1 <<'EOF'
81.2.69.142 GB 20712 lookups=1 hits=0 errors=0 org=Andrews & Arnold Ltd
1.128.0.1 - 1221 lookups=2 hits=0 errors=0 org=Telstra Pty Ltd
89.160.20.113 SE 3301 lookups=3 hits=0 errors=0 org=Telia Company AB
2.125.160.217 - 4200000000 lookups=4 hits=0 errors=0 org=Telefónica de España
2001:4860:4860::8888 US 15169 lookups=5 hits=0 errors=0 org=Google LLC
175.16.199.1 CN - lookups=6 hits=0 errors=0 org=-
EOF
expect "merge does not depend on the order the databases are given in" \
  "$tmp/asn.mmdb" "$tmp/iplocdb.mmdb" "$tmp/country.mmdb" -- 81.2.69.142 89.160.20.113 <<'EOF'
81.2.69.142 GB 20712 lookups=1 hits=0 errors=0 org=Andrews & Arnold Ltd
89.160.20.113 SE 3301 lookups=2 hits=0 errors=0 org=Telia Company AB
EOF

# ---------------------------------------------------------------- reserved addresses
# Every one of these is mapped by the databases above; none may reach them.
expect "reserved addresses are never looked up" \
  "$tmp/country.mmdb" "$tmp/asn.mmdb" "$tmp/iplocdb.mmdb" -- 10.1.2.3 192.168.1.1 127.0.0.1 \
  100.64.1.1 169.254.1.1 172.16.0.1 fe80::1 fd00::1 ::1 :: 0.0.0.0 224.0.0.1 2001:db8::1 \
  ::ffff:10.1.2.3 10.1.2.3 81.2.69.142 <<'EOF'
10.1.2.3 - - lookups=0 hits=0 errors=0 org=-
192.168.1.1 - - lookups=0 hits=0 errors=0 org=-
127.0.0.1 - - lookups=0 hits=0 errors=0 org=-
100.64.1.1 - - lookups=0 hits=0 errors=0 org=-
169.254.1.1 - - lookups=0 hits=0 errors=0 org=-
172.16.0.1 - - lookups=0 hits=0 errors=0 org=-
fe80::1 - - lookups=0 hits=0 errors=0 org=-
fd00::1 - - lookups=0 hits=0 errors=0 org=-
::1 - - lookups=0 hits=0 errors=0 org=-
:: - - lookups=0 hits=0 errors=0 org=-
0.0.0.0 - - lookups=0 hits=0 errors=0 org=-
224.0.0.1 - - lookups=0 hits=0 errors=0 org=-
2001:db8::1 - - lookups=0 hits=0 errors=0 org=-
::ffff:10.1.2.3 - - lookups=0 hits=0 errors=0 org=-
10.1.2.3 - - lookups=0 hits=0 errors=0 org=-
81.2.69.142 GB 20712 lookups=1 hits=0 errors=0 org=Andrews & Arnold Ltd
EOF

# ---------------------------------------------------------------- cache
expect "a repeated IP is a cache hit (IPv4-mapped text is the same key)" \
  "$tmp/country.mmdb" "$tmp/asn.mmdb" -- 81.2.69.142 81.2.69.142 ::ffff:81.2.69.142 1.128.0.1 \
  81.2.69.142 8.8.8.8 8.8.8.8 <<'EOF'
81.2.69.142 GB 20712 lookups=1 hits=0 errors=0 org=Andrews & Arnold Ltd
81.2.69.142 GB 20712 lookups=1 hits=1 errors=0 org=Andrews & Arnold Ltd
::ffff:81.2.69.142 GB 20712 lookups=1 hits=2 errors=0 org=Andrews & Arnold Ltd
1.128.0.1 - 1221 lookups=2 hits=2 errors=0 org=Telstra Pty Ltd
81.2.69.142 GB 20712 lookups=2 hits=3 errors=0 org=Andrews & Arnold Ltd
8.8.8.8 - - lookups=3 hits=3 errors=0 org=-
8.8.8.8 - - lookups=3 hits=4 errors=0 org=-
EOF
expect "a one-entry cache: a collision costs a re-lookup, never a wrong answer" \
  --cache 1 "$tmp/country.mmdb" "$tmp/asn.mmdb" -- 81.2.69.142 1.128.0.1 81.2.69.142 \
  81.2.69.142 <<'EOF'
81.2.69.142 GB 20712 lookups=1 hits=0 errors=0 org=Andrews & Arnold Ltd
1.128.0.1 - 1221 lookups=2 hits=0 errors=0 org=Telstra Pty Ltd
81.2.69.142 GB 20712 lookups=3 hits=0 errors=0 org=Andrews & Arnold Ltd
81.2.69.142 GB 20712 lookups=3 hits=1 errors=0 org=Andrews & Arnold Ltd
EOF

# ---------------------------------------------------------------- no database, odd data
expect "no database: every field empty, nothing counted" \
  -- 81.2.69.142 2001:4860::8888 10.1.2.3 <<'EOF'
81.2.69.142 - - lookups=0 hits=0 errors=0 org=-
2001:4860::8888 - - lookups=0 hits=0 errors=0 org=-
10.1.2.3 - - lookups=0 hits=0 errors=0 org=-
EOF
long=$(printf 'A%.0s' $(seq 46))
expect "fields of the wrong type or shape are ignored; strings are cleaned, UTF-8 kept" \
  "$tmp/country.mmdb" "$tmp/asn.mmdb" -- 5.6.7.1 5.6.8.1 5.6.9.1 5.6.10.1 31.64.1.1 <<EOF
5.6.7.1 - - lookups=1 hits=0 errors=0 org=-
5.6.8.1 - - lookups=2 hits=0 errors=0 org=-
5.6.9.1 DE - lookups=3 hits=0 errors=0 org=-
5.6.10.1 - 64502 lookups=4 hits=0 errors=0 org=Evil?Org?X?
31.64.1.1 - 64501 lookups=5 hits=0 errors=0 org=$long
EOF
expect "an IPv4-only database: IPv6 addresses are not in it, not an error" \
  "$tmp/v4only.mmdb" -- 8.8.8.8 2001:4860:4860::8888 <<'EOF'
8.8.8.8 US - lookups=1 hits=0 errors=0 org=-
2001:4860:4860::8888 - - lookups=2 hits=0 errors=0 org=-
EOF

# ---------------------------------------------------------------- errors at create
echo "not a database" >"$tmp/notes.txt"
: >"$tmp/empty.mmdb"
expect_error "a missing file" "$tmp/missing.mmdb: No such file or directory" \
  "$tmp/missing.mmdb" -- 8.8.8.8
expect_error "a file that is not an mmdb" "cannot open $tmp/notes.txt: not a MaxMind DB file" \
  "$tmp/notes.txt" -- 8.8.8.8
expect_error "an empty file" "cannot open $tmp/empty.mmdb: empty file" "$tmp/empty.mmdb" -- 8.8.8.8
expect_error "a directory" "cannot open $tmp: is a directory" "$tmp" -- 8.8.8.8
expect_error "a bad database after a good one (the good one is closed again)" \
  "cannot open $tmp/notes.txt" "$tmp/country.mmdb" "$tmp/asn.mmdb" "$tmp/notes.txt" -- 8.8.8.8
expect_error "more databases than geo_create takes" "at most 8" \
  "$tmp/asn.mmdb" "$tmp/asn.mmdb" "$tmp/asn.mmdb" "$tmp/asn.mmdb" "$tmp/asn.mmdb" \
  "$tmp/asn.mmdb" "$tmp/asn.mmdb" "$tmp/asn.mmdb" "$tmp/asn.mmdb" -- 8.8.8.8

# ---------------------------------------------------------------- ../shared
shared=${TAPIR_SHARED:+$TAPIR_SHARED/mmdb}
if [ -z "$shared" ] || [ ! -d "$shared" ]; then
  pass "own databases (../shared/mmdb is absent: MaxMind's test databases not tried)"
fi
m=$shared
if [ -f "$m/GeoIP2-City-Test.mmdb" ] && [ -f "$m/GeoLite2-ASN-Test.mmdb" ]; then
  expect "MaxMind's GeoIP2-City-Test + GeoLite2-ASN-Test" \
    "$m/GeoIP2-City-Test.mmdb" "$m/GeoLite2-ASN-Test.mmdb" -- 81.2.69.142 175.16.199.1 \
    216.160.83.56 1.128.0.1 2001:218::1 <<'EOF'
81.2.69.142 GB - lookups=1 hits=0 errors=0 org=-
175.16.199.1 CN - lookups=2 hits=0 errors=0 org=-
216.160.83.56 US 209 lookups=3 hits=0 errors=0 org=-
1.128.0.1 - 1221 lookups=4 hits=0 errors=0 org=Telstra Pty Ltd
2001:218::1 JP - lookups=5 hits=0 errors=0 org=-
EOF
else
  echo "skipped: ../shared/mmdb lacks GeoIP2-City-Test.mmdb or GeoLite2-ASN-Test.mmdb"
fi
w="$m/geo-whois-asn-country.mmdb"
if [ -f "$w" ]; then
  # Registry allocations that do not move: Google (ARIN), RIPE NCC, a Japanese university
  # (JPNIC via APNIC), NIC.br (LACNIC); 192.168.1.1 is mapped by the file (to AU, at the
  # time of writing) and must still come back empty.
  expect "ip-location-db's world-wide country file" \
    "$w" -- 8.8.8.8 193.0.6.139 133.1.1.1 200.160.0.1 2001:4860:4860::8888 2001:67c:2e8::1 \
    192.168.1.1 172.16.0.1 <<'EOF'
8.8.8.8 US - lookups=1 hits=0 errors=0 org=-
193.0.6.139 NL - lookups=2 hits=0 errors=0 org=-
133.1.1.1 JP - lookups=3 hits=0 errors=0 org=-
200.160.0.1 BR - lookups=4 hits=0 errors=0 org=-
2001:4860:4860::8888 US - lookups=5 hits=0 errors=0 org=-
2001:67c:2e8::1 NL - lookups=6 hits=0 errors=0 org=-
192.168.1.1 - - lookups=6 hits=0 errors=0 org=-
172.16.0.1 - - lookups=6 hits=0 errors=0 org=-
EOF
else
  echo "skipped: $w is absent"
fi
# The corrupt ones, and every other database MaxMind ships for its tests (odd types,
# no IPv4 subtree, IPv4-only trees): a clear error at create, or answers, never a crash.
ips="1.1.1.1 1.2.3.4 81.2.69.142 175.16.199.1 ::1.1.1.1 2001:218::1 2001:4860::1 ::ffff:1.2.3.4"
n=0
for db in "$m"/bad-data/*.mmdb "$m"/*.mmdb; do
  [ -f "$db" ] || continue
  n=$((n + 1))
  # shellcheck disable=SC2086
  "$gc" "$db" -- $ips >"$tmp/got" 2>"$tmp/err"
  rc=$?
  case $rc in
  0) echo "ok: $(basename "$db"): opened; $(tail -n 1 "$tmp/got" | sed 's/.*\(lookups=\)/\1/')" ;;
  2) grep -qF "cannot open $db: " "$tmp/err" || { cat "$tmp/err"; fail "$db: unclear error"; }
     echo "ok: $(basename "$db"): $(cat "$tmp/err")" ;;
  *) cat "$tmp/got" "$tmp/err"; fail "geo_check on $db exited $rc" ;;
  esac
done
[ -n "$(ls "$m"/bad-data/*.mmdb 2>/dev/null)" ] ||
  echo "skipped: no corrupt databases in $m/bad-data"
pass "own databases and $n from ../shared/mmdb"
