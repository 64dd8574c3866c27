#!/usr/bin/env bash
# tests/bench/json_test.sh BUILD_ROOT - a tiny benchmark run whose --json output must parse as
# JSON and hold every figure the suite reports (issue 13: it printed `"met": -`).
set -u
BUILD=${1:?usage: $0 BUILD_ROOT}
HERE=$(cd "$(dirname "$0")" && pwd)
command -v python3 >/dev/null || { echo "# SKIP: python3 is missing"; exit 77; }
OUT=$(mktemp "${TMPDIR:-/tmp}/auditfs-bench-json.XXXXXX")
trap 'rm -f "$OUT" "$OUT.err"' EXIT
if ! "$HERE/run" --records 3000 --proofs 200 --queries 3 --smoke --json --build "$BUILD" >"$OUT" 2>"$OUT.err"; then
    echo "not ok - tests/bench/run --json failed"; sed 's/^/#   /' "$OUT.err" | tail -20
    exit 1
fi
python3 - "$OUT" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
fails = 0
def check(cond, what):
    global fails
    print(("ok - " if cond else "not ok - ") + what)
    fails += 0 if cond else 1
check(d["records"] == 3000, "records")
check(all(isinstance(d["cpu"][k], bool) for k in ("sha_ni", "avx2", "avx512f")), "cpu flags are booleans")
rows = {r["name"]: r for r in d["rows"]}
for name in ("ingest_time", "ingest_time_z3", "ingest_time_sha256sum", "verify_time",
             "verify_time_sha256sum", "storage_bytes", "ingest_peak_rss", "proofs_per_s"):
    r = rows.get(name)
    check(r is not None and isinstance(r["value"], (int, float)) and r["value"] > 0
          and isinstance(r["baseline"], (int, float)) and r["baseline"] > 0, name + " has a figure and a baseline")
check("openssl" in rows["ingest_time"]["baseline_what"], "ingest's baseline is OpenSSL's SHA-256")
check("openssl" in rows["verify_time"]["baseline_what"], "verify's baseline is OpenSSL's SHA-256")
check(all(r["met"] in (True, False, None) for r in d["rows"]), "met is true, false or null")
check(all(r["ratio"] is None or isinstance(r["ratio"], (int, float)) for r in d["rows"]), "ratios are numbers or null")
check(isinstance(d["batch_ms_by_size"], list) and d["batches"] >= 1, "per-batch series")
check("query_p50" in rows and rows["query_p50"]["value"] is not None, "the selective query ran and was right")
print("%d failed" % fails)
sys.exit(1 if fails else 0)
PY
