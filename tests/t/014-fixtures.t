#!/usr/bin/env bash
# Synthetic citizens: load any N; the data obeys the domain rules except the
# deliberate bad cases, which the validators catch.
. "$(dirname "$0")/../lib/harness.sh"
export PSQL="$PGBIN/psql"

"$TOP/fixtures/load.sh" 150 7 "$T/reg" >/dev/null
is "$?" 0 "load.sh loads 150 citizens"
is "$(sql "SELECT count(*) FROM accounts")" 150 "150 accounts"
is "$(sql "SELECT count(*) FROM checks WHERE state = 'pending'")" 300 "300 pending checks"
is "$(sql "SELECT count(DISTINCT snils) FROM accounts")" 150 "SNILS unique"

bad=0
sql "SELECT id || ',' || snils FROM accounts ORDER BY id" >"$T/snils.csv"
awk -F, 'NR == FNR { f[$1] = $2; next } { print $1 "," f[$1] "," $2 }' "$T/reg/fates.csv" "$T/snils.csv" >"$T/joined.csv"
# the generator is under test here, not the binary: the plain build is quicker
V=$TOP/esia-batch
is "$(wc -l <"$T/joined.csv")" 150 "fates and accounts line up by id"
while IFS=, read -r id fate snils; do
	"$V" validate snils "$snils" >/dev/null 2>&1
	v=$?
	if [ "$fate" = bad_snils ]; then [ $v = 65 ] || bad=$((bad + 1)); else [ $v = 0 ] || bad=$((bad + 1)); fi
done <"$T/joined.csv"
is "$bad" 0 "every SNILS is valid except the bad_snils fates"
mixed=$(grep -c mixed_name "$T/reg/fates.csv")
n=0
for id in $(grep mixed_name "$T/reg/fates.csv" | cut -d, -f1); do
	"$V" validate name "$(sql "SELECT first_name FROM accounts WHERE id = $id")" >/dev/null 2>&1 || n=$((n + 1))
done
is "$n" "$mixed" "every mixed_name fate fails the name validator"
isnt "$mixed" 0 "there are mixed-name cases"
like "$(cat "$T/reg/fates.csv")" "pfr_mismatch" "the mix has PFR mismatches"
n_yo=$(sql "SELECT count(*) FROM accounts WHERE family_name ~ '[Ёё]' OR first_name ~ '[Ёё]' OR patronymic ~ '[Ёё]'")
[ "$n_yo" -gt 0 ]; ok $? "names with Ё present ($n_yo)"
pfr=$(wc -l <"$T/reg/pfr-registry.csv")
is "$pfr" "$(grep -cv -e pfr_notfound -e bad_snils "$T/reg/fates.csv")" "PFR registry has everyone but the not-found"
"$TOP/fixtures/load.sh" 5 >/dev/null 2>&1
isnt "$?" 0 "load.sh refuses a non-empty table"
done_testing
