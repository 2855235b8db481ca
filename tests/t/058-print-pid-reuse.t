#!/usr/bin/env bash
# A print run's temporaries (names, addresses, codes) are told live or dead
# by the lock their writer holds, never by the pid in their name: pids are
# reused, and a run in a container of its own has the same pid every time.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/letters.sh"

temps() { ls -A "$1" 2>/dev/null | grep -c '\.tmp\.'; }
# repid FOLDER PID: give every temporary in FOLDER the pid PID in its name
repid() {
	for f in "$1"/.*.tmp.*; do
		[ -e "$f" ] || continue
		mv "$f" "$(printf '%s\n' "$f" | sed "s/\.tmp\.[0-9]*\./.tmp.$2./")"
	done
}

# 1. a run killed mid-PDF; its pid then belongs to a live process (this shell)
make_many 3
faulty print.mid_pdf:kill print-letters
b=$(sql "SELECT max(id) FROM batches")
[ "$RC" = 137 ] && [ "$(temps "$T/spool/print/$b")" = 3 ] ||
	bail "a run killed mid-PDF should leave three temporaries"
repid "$T/spool/print/$b" $$
eb print-letters
ok $([ "$RC" = 0 ] && [ ! -e "$T/spool/print/$b" ]; echo $?) \
	"the next run removes the dead run's temporaries and void folder"
unlike "$ERR" "cannot remove the void print folder" "with no complaint"

# 2. a live writer (asleep mid-PDF) whose folder another run settles (as
# after a lost database session) and whose pid means nothing to that run
# (another PID namespace on a shared volume): its temporaries stay
make_many 3
ESIA_FAULT=print.mid_pdf:sleep=120 "$EB" print-letters --parallel >"$T/a.out" 2>"$T/a.err" &
apid=$!
wait_fault "$T/a.err" print.mid_pdf || bail "the first run did not reach print.mid_pdf"
a=$(sql "SELECT max(id) FROM batches WHERE status = 'running'")
[ "$(temps "$T/spool/print/$a")" = 3 ] || bail "a run asleep mid-PDF should have three temporaries"
dead=$(sh -c 'echo $$')
repid "$T/spool/print/$a" "$dead"
sql "UPDATE batches SET status = 'abandoned', finished_at = now() WHERE id = $a" >/dev/null
eb print-letters --parallel
is "$(temps "$T/spool/print/$a")" 3 "another run's sweep leaves the live writer's temporaries"
like "$ERR" "cannot remove the void print folder \"$T/spool/print/$a\"" "and so cannot remove its folder"
kill -9 "$apid"
wait "$apid" 2>/dev/null
repid "$T/spool/print/$a" $$
eb print-letters --parallel
ok $(grep -qE "event=print.void_removed void_batch=$a\$" "$T/err" && [ ! -e "$T/spool/print/$a" ]; echo $?) \
	"once that writer is dead, the next run removes its temporaries and folder"

# 3. the real thing, if this host can: each run in a PID namespace of its
# own, where esia-batch has the same pid every time
if unshare -p -f --mount-proc true 2>/dev/null; then
	# a shell as pid 1 (init ignores even its own SIGKILL), esia-batch pid 2
	ns() { unshare -p -f --mount-proc sh -c 'env "$@"; exit $?' sh "$@"; }
	make_many 3
	{ ns ESIA_FAULT=print.mid_pdf:kill "$EB" print-letters >"$T/out" 2>"$T/err"; } 2>/dev/null
	b=$(sql "SELECT max(id) FROM batches")
	[ "$(temps "$T/spool/print/$b")" = 3 ] || bail "namespaces: the killed run should leave three temporaries"
	ns "$EB" print-letters >"$T/out" 2>"$T/err"
	ok $([ "$?" = 0 ] && [ ! -e "$T/spool/print/$b" ]; echo $?) \
		"namespaces: the next run (the same pid) removes the dead run's folder"
else
	ok 0 "# SKIP no PID namespaces here (unshare -p)"
fi
done_testing
