#!/bin/sh
# Turn schema/NNN_name.sql files into a C table of (version, name, sql).
echo '/* generated from schema/NNN_name.sql by tests/lib/embed-schema.sh; do not edit */'
echo '#include "migrate.h"'
echo 'const struct migration migrations[] = {'
for f in "$@"; do
	base=$(basename "$f" .sql)
	ver=$(echo "$base" | sed 's/_.*//' | sed 's/^0*//')
	printf '\t{ %s, "%s",\n' "${ver:-0}" "$base"
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t  "/' -e 's/$/\\n"/' "$f"
	printf '\t},\n'
done
echo '};'
echo 'const int n_migrations = sizeof(migrations) / sizeof(migrations[0]);'
