#!/usr/bin/env python3
"""Counts test results from meson's testlog.json files: every TAP/shell 'ok'/'not ok' line is one
result; a test that failed without printing a 'not ok' line (a crash, a timeout) counts as one
failure; a test that exited 77 counts as skipped. Prints 'N passed, N failed[, N skipped]'."""
import json, re, sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    with open(path) as f:
        for line in f:
            t = json.loads(line)
            out = t.get("stdout") or ""
            res = t.get("result")
            if res == "SKIP":
                skipped += 1
                continue
            ok = nok = sk = 0
            for l in out.splitlines():
                if re.match(r"^ok\b", l):
                    if "# SKIP" in l or "# skip" in l:
                        sk += 1
                    else:
                        ok += 1
                elif re.match(r"^not ok\b", l):
                    nok += 1
            if res not in ("OK", "EXPECTEDFAIL") and nok == 0:
                nok = 1
            if ok + nok + sk == 0:
                ok = 1 if res == "OK" else 0
            passed += ok
            failed += nok
            skipped += sk
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed else 0)
