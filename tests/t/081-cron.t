#!/usr/bin/env bash
# cron/: every scheduled command is a real command with valid options, the
# crontab lines are well-formed, the timers' calendars parse; code_expiring
# reminders are scheduled (cron and systemd) and their command runs; the
# optional metrics directory cannot keep a unit from starting.
. "$(dirname "$0")/../lib/harness.sh"

n=0
while read -r m h dom mon dow user cmd; do
	case "$m" in ''|'#'*|*=*) continue ;; esac
	n=$((n + 1))
	for f in "$m" "$h" "$dom" "$mon" "$dow"; do
		printf '%s' "$f" | grep -Eq '^(\*|[0-9]+)(/[0-9]+)?(,[0-9]+)*$' || ok 1 "crontab field '$f'"
	done
	is "$user" esia-batch "crontab runs as esia-batch: $cmd"
	sub=$(printf '%s\n' "$cmd" | awk '{ for (i = 2; i <= NF; i++) if ($i !~ /^-/) { print $i; exit } }')
	eb help "$sub"
	is "$RC" 0 "scheduled command exists: $sub"
done <"$TOP/cron/crontab"
[ "$n" -ge 6 ]; ok $? "crontab schedules every job ($n lines)"

for t in "$TOP"/cron/*.timer; do
	svc=${t%.timer}.service
	[ -f "$svc" ]; ok $? "$(basename "$t") has its service"
	cal=$(sed -n 's/^OnCalendar=//p' "$t")
	if command -v systemd-analyze >/dev/null 2>&1; then
		systemd-analyze calendar "$cal" >/dev/null 2>&1
		ok $? "$(basename "$t") calendar '$cal' parses"
	fi
	sub=$(sed -n 's/^ExecStart=[^ ]* --quiet //p' "$svc" | awk '{ for (i = 1; i <= NF; i++) if ($i !~ /^-/) { print $i; exit } }')
	eb help "$sub"
	is "$RC" 0 "$(basename "$svc") runs a real command ($sub)"
done

# plain `notify` never enqueues code_expiring: a daily run must ask for it
cron_exp=$(grep -E '^[^#]*esia-batch +--quiet .*notify +--expiring-days +[0-9]+' "$TOP/cron/crontab")
like "$cron_exp" '^0 +[0-9]+ +\* +\* +\* ' "crontab: a daily notify --expiring-days run"
svc=$(grep -lE '^ExecStart=.* notify +--expiring-days +[0-9]+' "$TOP"/cron/*.service)
isnt "$svc" "" "systemd: a unit runs notify --expiring-days"
like "$(sed -n 's/^OnCalendar=//p' "${svc%.service}.timer" 2>/dev/null)" '^\*-\*-\* [0-9:]+$' \
	"systemd: its timer is daily"
# the scheduled command line itself runs (options valid; quiet when nothing is due)
args=$(printf '%s\n' "$cron_exp" | awk '{ for (i = 8; i <= NF; i++) printf "%s ", $i }')
eb $args
is "$RC" 0 "crontab's expiring command runs: $args"
is "$OUT" "" "and prints nothing (cron mails output)"
args=$(sed -n 's/^ExecStart=[^ ]* //p' "$svc")
eb $args
is "$RC" 0 "the unit's expiring command runs: $args"

# ReadWritePaths= of a missing directory fails the unit (226/NAMESPACE) unless
# it is prefixed with "-"; only the spool is required, metrics are optional
for svc in "$TOP"/cron/*.service; do
	rw=$(sed -n 's/^ReadWritePaths=//p' "$svc")
	like "$rw" '(^| )-/var/lib/node_exporter/textfile_collector( |$)' \
		"$(basename "$svc"): the metrics directory is optional (-)"
	bad=$(printf '%s\n' $rw | grep -v -e '^-' -e '^/var/spool/esia-batch$')
	is "$bad" "" "$(basename "$svc"): no other required path"
done
done_testing
