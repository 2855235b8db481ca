#!/usr/bin/env bash
# audit list pads its columns by characters, not bytes: an archive folder
# and a job named in Cyrillic (two bytes a letter) keep their rows in line
# with the header and with an ASCII row.
. "$(dirname "$0")/../lib/harness.sh"

: >"$T/empty.conf"
D=$T/arch
mkdir -p "$D/архив" "$D/2026"
# mk PATH SEQ BATCH JOB: an (unsigned) archive whose MANIFEST says so
mk() {
	python3 - "$@" <<'PY' || bail "cannot make an archive"
import io, sys, tarfile
path, seq, batch, job = sys.argv[1:]
m = ("esia-batch archive manifest 1\nseq: %s\nbatch: %s\njob: %s\n"
     "finished: 2026-01-01T00:00:00Z\ncreated: 2026-01-02T00:00:00Z\nprev: none\n"
     "files: 0\n\n" % (seq, batch, job)).encode()
with tarfile.open(path, "w:xz", format=tarfile.GNU_FORMAT) as t:
    for n, data in (("MANIFEST", m), ("MANIFEST.p7s", b"abcd")):
        ti = tarfile.TarInfo(n); ti.size = len(data); ti.mode = 0o600
        t.addfile(ti, io.BytesIO(data))
PY
}
mk "$D/2026/7.tar.xz" 1 7 export-checks
mk "$D/архив/8.tar.xz" 2 8 выгрузка

eb --config "$T/empty.conf" audit list --archive-dir "$D"
is "$RC" 0 "audit list runs" || diag "$ERR"
want=$(python3 - <<'PY'
row = "{:<28} {:>5} {:>8}  {:<16} {:<20} {:>5}"
print(row.format("ARCHIVE", "SEQ", "BATCH", "JOB", "FINISHED", "FILES"))
print(row.format("2026/7.tar.xz", 1, 7, "export-checks", "2026-01-01T00:00:00Z", 0))
print(row.format("архив/8.tar.xz", 2, 8, "выгрузка", "2026-01-01T00:00:00Z", 0))
PY
)
is "$OUT" "$want" "the Cyrillic row's columns line up, counted in characters"
done_testing
