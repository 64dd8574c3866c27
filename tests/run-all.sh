#!/usr/bin/env bash
# Runs every test auditfs has, as CI does: installs the Debian packages, builds, runs the unit,
# CLI, interop and mount suites, rebuilds with ASan+UBSan and runs the unit and CLI suites again,
# fuzzes every parser for a bounded time, runs the torture suite and a sample of the mutation
# tests, and prints "N passed, N failed" from the real results.
# Usage: tests/run-all.sh [--quick]   (run as root: the mount tests need /dev/fuse)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
[ "${1:-}" = "--quick" ] && FUZZ_SECONDS=3

bash contrib/install-deps.sh || { echo "dependency installation failed"; echo "0 passed, 1 failed"; exit 1; }

logs=()
status=0

# 1. the normal build and every suite
meson setup build --buildtype=debugoptimized >/dev/null 2>&1 || meson setup --reconfigure build >/dev/null
if ninja -C build >build-ninja.log 2>&1; then
    meson test -C build --print-errorlogs --num-processes 2 || status=1
    logs+=(build/meson-logs/testlog.json)
else
    cat build-ninja.log; status=1
    echo '{"name":"build","result":"FAIL","stdout":"not ok - the build failed\\n"}' > build-failed.json
    logs+=(build-failed.json)
fi

# 2. sanitizers: ASan + UBSan, unit and CLI suites (the mount suite runs in the normal build)
meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debugoptimized \
    >/dev/null 2>&1 || meson setup --reconfigure build-asan >/dev/null
if ninja -C build-asan >build-asan-ninja.log 2>&1; then
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=$ROOT/tests/lsan.supp UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        meson test -C build-asan --suite unit --suite cli --print-errorlogs --num-processes 2 || status=1
    logs+=(build-asan/meson-logs/testlog.json)
else
    cat build-asan-ninja.log; status=1
    echo '{"name":"asan build","result":"FAIL","stdout":"not ok - the ASan+UBSan build failed\\n"}' > build-asan-failed.json
    logs+=(build-asan-failed.json)
fi

# 3. fuzzing: every libFuzzer target for a bounded time on its committed seed corpus
if [ -x tests/fuzz/run.sh ]; then
    bash tests/fuzz/run.sh "$FUZZ_SECONDS" build-fuzz > build-fuzz.json || status=1
    logs+=(build-fuzz.json)
fi

# 4. torture suite, bounded form
if [ -x tests/torture/run ]; then
    tests/torture/run --quick --build build --json-log build-torture.json || status=1
    [ -f build-torture.json ] && logs+=(build-torture.json)
fi

# 5. mutation testing, the CI sample: each mutant one result (tests/mutation/run --quick)
if [ -x tests/mutation/run ]; then
    tests/mutation/run --quick --json-log build-mutation.json || status=1
    [ -f build-mutation.json ] && logs+=(build-mutation.json)
fi

python3 tests/count.py "${logs[@]}"
rc=$?
[ $status -ne 0 ] && rc=1
exit $rc
