#!/bin/sh
# The median of the numbers on stdin, one per line (the lower middle of an
# even count): the bench's figure for a job timed more than once.
sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
