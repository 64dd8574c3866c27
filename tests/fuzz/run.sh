#!/usr/bin/env bash
# Builds every libFuzzer target (clang, ASan+UBSan) and runs each for a bounded time on a copy
# of its committed seed corpus. Prints one meson-style JSON line per target for tests/count.py.
# Usage: tests/fuzz/run.sh SECONDS BUILDDIR
set -uo pipefail
secs=${1:-15}
out=${2:-build-fuzz}
cd "$(dirname "$0")/../.."
mkdir -p "$out"
srcs=$(ls ledger/*.c)
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude -Iledger -D_GNU_SOURCE -DAUDITFS_VERSION=\"fuzz\""
libs=$(pkg-config --cflags --libs libsodium libzstd libgit2 libcrypto zlib)
rc=0
# the library once, then one link per target
mkdir -p "$out/obj"
objs=""
for src in $srcs; do
    o="$out/obj/$(basename "$src" .c).o"
    clang $flags -c "$src" $(pkg-config --cflags libsodium libzstd libgit2 libcrypto zlib) -o "$o" || rc=1
    objs="$objs $o"
done
for f in tests/fuzz/fuzz_*.c; do
    name=$(basename "$f" .c)
    target=${name#fuzz_}
    bin="$out/$name"
    log="$out/$name.log"
    corpus="$out/corpus-$target"
    rm -rf "$corpus"; mkdir -p "$corpus"
    [ -d "tests/fuzz/corpus/$target" ] && cp tests/fuzz/corpus/$target/* "$corpus"/ 2>/dev/null
    if ! clang $flags "$f" $objs $libs -lpthread -o "$bin" >"$log" 2>&1; then
        printf '{"name":"fuzz %s","result":"FAIL","stdout":"not ok - fuzz %s does not build\\n"}\n' "$target" "$target"
        rc=1; continue
    fi
    if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$corpus" >>"$log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
        printf '{"name":"fuzz %s","result":"OK","stdout":"ok - fuzz %s: %s runs in %ss, no findings\\n"}\n' "$target" "$target" "${runs:-?}" "$secs"
    else
        printf '{"name":"fuzz %s","result":"FAIL","stdout":"not ok - fuzz %s found a crash (see %s)\\n"}\n' "$target" "$target" "$log"
        rc=1
    fi
done
exit $rc
