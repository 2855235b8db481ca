#!/usr/bin/env bash
# Configuration: search order, errors naming file and line, secrets.
. "$(dirname "$0")/../lib/harness.sh"

eb config check
is "$RC" 0 "the test configuration is valid"
like "$OUT" "root = $T/spool" "config check prints effective values"

printf '[database]\nconninfo = host=/x password=hunter2 user=a\n' >"$T/pw.conf"
eb --config "$T/pw.conf" config check
unlike "$OUT" "hunter2" "conninfo password masked"
like "$OUT" "password=\*+" "mask is visible"
# read as libpq reads it: quoted, escaped and URI passwords are masked whole
printf "[database]\nconninfo = host=/x password='correct horse \\\\' battery' user=a\n" >"$T/pw2.conf"
printf '[database]\nconninfo = postgresql://a:s3cret@db.example/esia\n' >"$T/pw3.conf"
for f in pw2 pw3; do
	eb --config "$T/$f.conf" config check
	unlike "$OUT" "horse|battery|s3cret" "$f: no part of the password shown"
	like "$OUT" "password=\*{8} " "$f: masked"
	eb --config "$T/$f.conf" config check --json
	unlike "$OUT" "horse|battery|s3cret" "$f: nor in --json"
done
# durations that would overflow are refused, not wrapped to a short time
printf '[letters]\ncode_ttl = 213503982334602d\n' >"$T/dur.conf"
eb --config "$T/dur.conf" config check
is "$RC" 1 "an overflowing duration fails config check"
like "$ERR" "dur.conf:2: " "naming the line"
# values go to mail headers, JSON and the database: UTF-8 only
printf '[letters]\nsender_name = \315\350\352\n' >"$T/cp1251.conf"
eb --config "$T/cp1251.conf" config check --json
is "$RC" 1 "a value that is not UTF-8 fails"
like "$ERR" "cp1251.conf:2: not UTF-8 text" "naming the line"

printf '[database]\nconninfo =\n\n[spool]\nrooot = /x\n' >"$T/bad.conf"
eb --config "$T/bad.conf" config check
is "$RC" 1 "unknown key fails"
like "$ERR" "bad.conf:5: unknown key \"rooot\" in \[spool\]" "error names file, line and key"

printf '[database]\n[nosuch]\n' >"$T/bad2.conf"
eb --config "$T/bad2.conf" config check
like "$ERR" "bad2.conf:2: unknown section \[nosuch\]" "unknown section named with line"

printf '[pfr]\nmax_records = many\n' >"$T/bad3.conf"
eb --config "$T/bad3.conf" config check
like "$ERR" "bad3.conf:2: .*not a non-negative integer" "bad integer named with line"

printf '[spool]\nroot = /a\nroot = /b\n' >"$T/bad4.conf"
eb --config "$T/bad4.conf" config check
like "$ERR" "bad4.conf:3: .*set twice" "duplicate key refused"

eb --config "$T/nope.conf" config check
is "$RC" 1 "missing explicit config fails"
like "$ERR" "nope.conf" "missing file named"

# $ESIA_BATCH_CONFIG is used when --config is absent; --config wins.
ESIA_BATCH_CONFIG="$T/bad.conf" "$EB" config check >/dev/null 2>"$T/e1"
like "$(cat "$T/e1")" "bad.conf:5" "ESIA_BATCH_CONFIG is read"
ESIA_BATCH_CONFIG="$T/bad.conf" "$EB" --config "$T/esia-batch.conf" config check >/dev/null 2>&1
is "$?" 0 "--config wins over ESIA_BATCH_CONFIG"

# relative paths resolve against the config file's folder
mkdir -p "$T/etc"
printf '[spool]\nroot = spool-rel\n' >"$T/etc/rel.conf"
eb --config "$T/etc/rel.conf" config check
like "$OUT" "root = $T/etc/spool-rel" "relative path resolved against the file"

# secrets are files, refused when group/world readable
printf 'k3y\n' >"$T/hmac.key"
chmod 0644 "$T/hmac.key"
printf '[letters]\nhmac_key = hmac.key\n' >"$T/sec.conf"
eb --config "$T/sec.conf" config check
is "$RC" 1 "a world-readable secret fails config check"
like "$ERR" "sec.conf:2: \[letters\] hmac_key: secret .*hmac.key\" is readable by group or others \(mode 0644\)" "names file, line, key and mode"
unlike "$OUT$ERR" "k3y" "the secret itself is never printed"
chmod 0600 "$T/hmac.key"
eb --config "$T/sec.conf" config check
is "$RC" 0 "a 0600 secret passes"
like "$OUT" "hmac_key = $T/hmac.key +# secret file, contents not shown" "secret shown as a path only"
printf '[letters]\nhmac_key = missing.key\n' >"$T/sec2.conf"
eb --config "$T/sec2.conf" config check
like "$ERR" "sec2.conf:2: .*missing.key.*No such file" "a missing secret is named"

eb config keys
like "$OUT" "^\| section \| key" "config keys prints the reference table"
is "$(sed -n '/^| section | key | type | default | meaning |$/,/^$/p' "$TOP/README.md" | sed '/^$/d')" "$OUT" \
	"the README's table of keys is config keys' output"

eb config check --json
like "$OUT" '"spool.root":"' "--json output"

# a configuration that cannot be loaded is a failure (1), never "try later"
# (75): cron's units count 75 as success, so a typo would go unseen
printf '[broken\n' >"$T/broken.conf"
for cmd in export-checks import-responses print-letters notify archive status batches "batch show 1" \
	"rerun 1" migrate; do
	# shellcheck disable=SC2086
	eb --config "$T/broken.conf" $cmd
	is "$RC" 1 "$cmd with a broken config exits 1"
done
like "$ERR" "broken.conf:1" "naming the file and line"
done_testing
