#!/usr/bin/env bash
# tests/cli/cli_progress.sh - progress on long operations: shown (done/total, rate, ETA, a final
# line) when standard error is a terminal, silent when it is not. script(1) provides the
# terminal; AUDITFS_PROGRESS=now drops the half-second grace so a small ledger suffices.
source "$(dirname "$0")/lib.sh"
export AUDITFS_STATE=$WORK/state
A=$AUDITFS
if ! command -v script >/dev/null; then echo "1..0 # SKIP no script(1)"; exit 77; fi
"$A" keygen example.com/prog -o k >/dev/null 2>&1
"$A" init --ledger L --key k >/dev/null 2>&1
seq 1 5000 | sed 's/.*/{"actor":"a&","n":&}/' | "$A" append --ledger L --key k --stream s --no-index >/dev/null
tty_run() { AUDITFS_PROGRESS=now script -qec "$*" /dev/null | tr '\r' '\n' >"$WORK/.out"; }

tty_run "'$A' verify --ledger L --key k.pub"
expect_out '^verify: 1024/5000 entries \(20%\)' "verify on a terminal: done/total and percentage"
expect_out '^verify: 5000/5000 entries \(100%\).*done in [0-9]+:[0-9]{2}$' "verify: a final line with the elapsed time"
expect_out '^ok: example.com/prog: 5000 entries' "verify still reports its result"
tty_run "'$A' index --ledger L --rebuild"
expect_out '^index: 5000/5000 entries \(100%\)' "index --rebuild on a terminal shows progress"
tty_run "'$A' incident --since 2000-01-01 --until 2100-01-01 --ledger L --key k.pub -o B _seq\\<300"
expect_out '^incident: 300/300 entries \(100%\)' "incident on a terminal shows progress"
AUDITFS_PROGRESS=0 script -qec "AUDITFS_PROGRESS=0 '$A' verify --ledger L --key k.pub" /dev/null >"$WORK/.out"
if grep -q "^verify: " "$WORK/.out"; then not_ok "AUDITFS_PROGRESS=0 silences it"; else ok "AUDITFS_PROGRESS=0 silences it"; fi
# not a terminal: nothing on stderr but the result
AUDITFS_PROGRESS=now "$A" verify --ledger L --key k.pub >"$WORK/v.out" 2>"$WORK/v.err"
if [ -s "$WORK/v.err" ]; then not_ok "verify to a pipe is quiet on stderr ($(head -c 200 "$WORK/v.err"))"; else ok "verify to a pipe is quiet on stderr"; fi
AUDITFS_PROGRESS=now "$A" index --ledger L --rebuild >/dev/null 2>"$WORK/i.err"
if [ -s "$WORK/i.err" ]; then not_ok "index to a pipe is quiet"; else ok "index to a pipe is quiet"; fi
# clone and sync: objects fetched, then entries verified (sync: only the new ones)
AUDITFS_STATE=$WORK/customer tty_run "'$A' clone '$WORK/L' R --key k.pub"
expect_out '^fetch: [0-9]+/[0-9]+ objects \(100%\).*done in [0-9]+:[0-9]{2}$' "clone on a terminal: objects fetched, with a final line"
expect_out '^verify: 5000/5000 entries \(100%\)' "clone on a terminal: entries verified"
expect_out '^cloned example.com/prog: size 5000' "clone still reports its result"
seq 1 3000 | sed 's/.*/{"actor":"b&"}/' | "$A" append --ledger L --key k --stream s --no-index >/dev/null
AUDITFS_STATE=$WORK/customer tty_run "'$A' sync --ledger R"
expect_out '^fetch: [0-9]+/[0-9]+ objects \(100%\)' "sync on a terminal: objects fetched"
expect_out '^verify: 8000/8000 entries \(100%\)' "sync on a terminal: the new entries verified up to the new size"
if grep -q '^verify: [1-4][0-9]\{3\}/8000' "$WORK/.out"; then not_ok "sync re-verified old entries"; else ok "  from the old size on (no tick below 5000)"; fi
expect_out '^synced example.com/prog: size 5000 -> 8000' "sync still reports its result"
# (a sanitizer build's LeakSanitizer adds its "Suppressions used" table: not progress)
lsan_strip() { sed '/^-\{20,\}$/,/^-\{20,\}$/d' "$1" >"$1.s" && mv "$1.s" "$1"; }
AUDITFS_STATE=$WORK/customer AUDITFS_PROGRESS=now "$A" clone "$WORK/L" R2 --key k.pub >/dev/null 2>"$WORK/c.err"
lsan_strip "$WORK/c.err"
if grep -q '[^[:space:]]' "$WORK/c.err"; then not_ok "clone to a pipe is quiet ($(head -c 200 "$WORK/c.err"))"; else ok "clone to a pipe is quiet on stderr"; fi
seq 1 10 | sed 's/.*/{"actor":"c&"}/' | "$A" append --ledger L --key k --stream s --no-index >/dev/null
AUDITFS_STATE=$WORK/customer AUDITFS_PROGRESS=now "$A" sync --ledger R2 >/dev/null 2>"$WORK/s.err"
lsan_strip "$WORK/s.err"
if grep -q '[^[:space:]]' "$WORK/s.err"; then not_ok "sync to a pipe is quiet ($(head -c 200 "$WORK/s.err"))"; else ok "sync to a pipe is quiet on stderr"; fi
finish
