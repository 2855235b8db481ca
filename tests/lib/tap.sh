# TAP for shell tests. Source it; then ok/is/like/...; done_testing at the end.
_tap_n=0
_tap_fail=0

ok() { # ok STATUS DESCRIPTION  (STATUS 0 = pass, as in shell)
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $2"
	else
		echo "not ok $_tap_n - $2"
		_tap_fail=$((_tap_fail + 1))
	fi
}

is() { # is GOT EXPECTED DESCRIPTION
	if [ "$1" = "$2" ]; then ok 0 "$3"; else
		ok 1 "$3"
		printf '#   got:      %s\n#   expected: %s\n' "$1" "$2"
	fi
}

isnt() { # isnt GOT UNEXPECTED DESCRIPTION
	if [ "$1" != "$2" ]; then ok 0 "$3"; else
		ok 1 "$3"
		printf '#   got %s, which it should not be\n' "$1"
	fi
}

like() { # like TEXT EXTENDED_REGEX DESCRIPTION
	if printf '%s' "$1" | grep -Eq -- "$2"; then ok 0 "$3"; else
		ok 1 "$3"
		printf '#   %s\n#   does not match /%s/\n' "$(printf '%s' "$1" | head -c 600)" "$2"
	fi
}

unlike() { # unlike TEXT EXTENDED_REGEX DESCRIPTION
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		ok 1 "$3"
		printf '#   %s\n#   matches /%s/\n' "$(printf '%s' "$1" | head -c 600)" "$2"
	else ok 0 "$3"; fi
}

diag() { printf '# %s\n' "$*"; }

bail() { echo "Bail out! $*"; exit 255; }

done_testing() {
	echo "1..$_tap_n"
	[ "$_tap_fail" -eq 0 ]
	exit $?
}
