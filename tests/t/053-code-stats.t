#!/usr/bin/env bash
# 100,000 codes from the real generator: each digit position uniform
# (chi-square, 9 degrees of freedom, computed here in python3), every code
# passes an independent Damm check, no duplicates.
. "$(dirname "$0")/../lib/tap.sh"
TOP=$(cd "$(dirname "$0")/../.." && pwd)
EB=${ESIA_BATCH:-$TOP/esia-batch}
GEN=$(dirname "$EB")/tools/code-gen
[ -x "$GEN" ] || GEN=$TOP/build/asan/tools/code-gen
[ -x "$GEN" ] || bail "no $GEN (make asan)"
T=$(mktemp -d "${TMPDIR:-/tmp}/esia-t.XXXXXX")
trap 'rm -rf "$T"' EXIT

"$GEN" 100000 >"$T/codes" || bail "code-gen failed"
python3 - "$T/codes" <<'PY'
import math, sys
codes = open(sys.argv[1]).read().split()
n = len(codes)
def q(chi, k=9):
    # upper tail of chi-square with k degrees of freedom (series for the
    # regularised lower incomplete gamma)
    a, x = k / 2, chi / 2
    s, term, i = 0.0, 1.0 / a, 0
    while term > 1e-15 * s or i < 10:
        s += term; i += 1; term *= x / (a + i)
    return 1 - math.exp(-x + a * math.log(x) - math.lgamma(a)) * s
t = ["0317598642", "7092154863", "4206871359", "1750983426", "6123045978",
     "3674209581", "5869720134", "8945362017", "9438617205", "2581436790"]
def damm(c):
    i = 0
    for ch in c: i = int(t[i][int(ch)])
    return i
n_ok = 0
print(f"ok 1 - {n} codes of 16 digits" if n == 100000 and all(len(c) == 16 and c.isdigit() for c in codes)
      else f"not ok 1 - {n} codes, some malformed")
print("ok 2 - every code passes the Damm check" if all(damm(c) == 0 for c in codes)
      else "not ok 2 - a code fails the Damm check")
print("ok 3 - no duplicates" if len(set(codes)) == n else "not ok 3 - duplicate codes")
# the power of the test: byte % 10 (the modulo bias rejection sampling avoids)
# over 100,000 draws must fail at the threshold used below
bias = [0] * 10
for i in range(100000): bias[(i * 7) % 256 % 10] += 1
chi_b = sum((c - 10000) ** 2 / 10000 for c in bias)
print(f"ok 4 - the test rejects modulo-biased digits (p={q(chi_b):.2g})" if q(chi_b) < 1e-4
      else f"not ok 4 - the test does not see modulo bias (p={q(chi_b):.2g})")
for pos in range(16):
    cnt = [0] * 10
    for c in codes: cnt[ord(c[pos]) - 48] += 1
    e = n / 10
    chi = sum((c - e) ** 2 / e for c in cnt)
    p = q(chi)
    # 16 tests at 1e-4 each: a false alarm about once in 600 runs
    print(f"{'ok' if p > 1e-4 else 'not ok'} {5 + pos} - position {pos + 1}: chi2={chi:.1f} p={p:.3f}")
print("1..20")
PY
