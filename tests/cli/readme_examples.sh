#!/usr/bin/env bash
# tests/cli/readme_examples.sh - every ```sh block of README.md runs as written, in order, in
# one shell session, against a demo ledger the blocks themselves create. The only changes to
# the environment, none to the commands:
#   - /srv, /var/log, /var/www, /mnt and /etc/auditfs are directories under a scratch root
#     (the paths in each block are rewritten with that prefix);
#   - `auditfs` is the built binary, first on PATH;
#   - the clock reads 2026-11-17T02:30:00Z when the session starts (libfaketime), so the dates
#     the README uses (ingestion time) are those of the demo entries;
#   - `tail -F` stops after 4 s (it would follow forever), then the pipeline ends normally;
#   - /var/log/api-audit.jsonl, sla-v3.md and notice.md exist: 2500 audit lines and two docs.
# A block preceded by <!-- readme-test: skip (why) --> is not run; one marked needs-install
# runs only if an installed auditfs is on mount(8)'s fixed PATH. Each block runs with
# `set -e -o pipefail`: any failing command fails the test. Mounts are always unmounted.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
export AUDITFS_STATE=$WORK/state
README=${SOURCE_ROOT:-$HERE/../..}/README.md
FT=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
[ -f "$FT" ] || FT=$(find /usr/lib* -name libfaketime.so.1 2>/dev/null | head -1)
if [ -z "$FT" ]; then echo "# SKIP: libfaketime (Debian faketime) is not installed"; exit 77; fi
if [ ! -e /dev/fuse ] || ! command -v fusermount3 >/dev/null; then echo "# SKIP: no FUSE for the mount examples"; exit 77; fi
R=$WORK/root
mkdir -p "$R/srv/ledgers" "$R/var/log" "$R/var/www" "$R/mnt" "$R/etc/auditfs" "$WORK/bin" "$WORK/cwd"
ln -s "$AUDITFS" "$WORK/bin/auditfs"
trap 'for m in "$R/mnt/audit"; do awk -v m="$m" "\$5 == m" /proc/self/mountinfo | grep -q . && { umount "$m" 2>/dev/null || fusermount3 -uz "$m"; }; done; rm -rf "$WORK"' EXIT

# the demo's input: 2500 API audit lines (ops-7 among the actors, some failures, i-004242)
awk 'BEGIN { for (i = 0; i < 2500; i++)
    printf "{\"actor\":\"ops-%d\",\"action\":\"ec2:%s\",\"resource\":\"i-%06d\",\"result\":\"%s\"}\n",
        i % 11, (i % 3 ? "StopInstances" : "RebootInstances"), (i % 10 == 7 ? 4242 : i),
        (i % 13 == 0 ? "failure" : "success") }' >"$R/var/log/api-audit.jsonl"
printf '# Acme compute SLA v3\nAvailability 99.95%%\n' >"$WORK/cwd/sla-v3.md"
printf 'Maintenance window 2026-12-01 02:00-04:00 UTC\n' >"$WORK/cwd/notice.md"

# split README into blocks: block N in $WORK/block.N, its marker in $WORK/mark.N
awk -v dir="$WORK" '
    /^<!-- readme-test:/ { mark = $0; next }
    /^```sh$/ { n++; f = dir "/block." n; printf "" > f; print mark > (dir "/mark." n); mark = ""; inb = 1; next }
    /^```/ { inb = 0; mark = ""; next }
    inb { print > f; next }
    /[^ ]/ { mark = "" }' "$README"
nblocks=$(ls "$WORK"/block.* | wc -l)
[ "$nblocks" -ge 5 ] && ok "README has $nblocks sh blocks" || not_ok "only $nblocks sh blocks found"

cat >"$WORK/session.sh" <<EOS
set -e -o pipefail
export PATH="$WORK/bin:\$PATH"
export LD_PRELOAD="$FT" FAKETIME="@2026-11-17 02:30:00" FAKETIME_DONT_FAKE_MONOTONIC=1
tail() { case " \$* " in *" -F "*) env -u LD_PRELOAD timeout 4 tail "\$@" || [ \$? -eq 124 ] ;; *) command tail "\$@" ;; esac; }
cd "$WORK/cwd"
EOS
installed=$(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v auditfs)
for i in $(seq 1 "$nblocks"); do
    mark=$(cat "$WORK/mark.$i")
    case $mark in
        *"readme-test: skip"*) echo "# block $i skipped: $mark"; continue ;;
        *"readme-test: needs-install"*)
            if [ -z "$installed" ] || ! "$installed" export --help >/dev/null 2>&1; then
                echo "# block $i skipped: no installed auditfs for mount(8)"; continue
            fi ;;
    esac
    sed -e "s#\\(^\\|[ =:'\"]\\)/srv/#\\1$R/srv/#g" -e "s#\\(^\\|[ =:'\"]\\)/var/log/#\\1$R/var/log/#g" \
        -e "s#\\(^\\|[ =:'\"]\\)/var/www/#\\1$R/var/www/#g" -e "s#\\(^\\|[ =:'\"]\\)/mnt/audit#\\1$R/mnt/audit#g" \
        -e "s#\\(^\\|[ =:'\"]\\)/etc/auditfs/#\\1$R/etc/auditfs/#g" "$WORK/block.$i" >"$WORK/run.$i"
    printf '\n# ---- README block %d\necho "### block %d" >&2\n' "$i" "$i" >>"$WORK/session.sh"
    cat "$WORK/run.$i" >>"$WORK/session.sh"
done
echo 'echo "### all blocks done" >&2' >>"$WORK/session.sh"
# timeout makes itself a process group leader: whatever a failed block left running (the
# README's witness server) is in that group and is stopped with it
timeout 300 bash "$WORK/session.sh" >"$WORK/session.out" 2>"$WORK/session.err" &
spid=$!
wait "$spid"
rc=$?
kill -TERM -- "-$spid" 2>/dev/null
last=$(grep '^### ' "$WORK/session.err" | tail -1)
if [ $rc -eq 0 ] && [ "$last" = "### all blocks done" ]; then
    ok "every README example block ran as written (exit 0)"
else
    not_ok "README examples failed in ${last#\#\#\# } (exit $rc)"
    tail -15 "$WORK/session.err" | sed 's/^/#   /'
fi
# and they did what the README says
O=$WORK/session.out
grep -q '^ok: provider.example/acme: 25[0-9][0-9] entries' "$O" && ok "verify reported the demo ledger" || not_ok "no verify line"
[ "$(grep -c '"leaf_index":42' "$O")" -ge 1 ] && ok "prove printed the proof of entry 42" || not_ok "no proof"
grep -q '^c2sp.org/tlog-proof@v1$' "$WORK/cwd/entry42.proof" && ok "prove --tlog-proof printed a tlog-proof" || not_ok "no tlog-proof"
grep -q '"result":"failure"' "$O" && ok "the mount's 2026/11/17 day file had the failures" || not_ok "no failures from the day file"
grep -q '^VERIFIED' "$O" && ok "verify-bundle verified the incident bundle" || not_ok "no VERIFIED"
[ -f "$R/var/www/tlog/acme/checkpoint" ] && ok "the tlog-tiles export exists" || not_ok "no export"
[ -d "$WORK/cwd/bundle/ledgers/acme/entries" ] && [ -n "$(ls "$WORK/cwd/bundle/ledgers/acme/entries")" ] &&
    ok "the incident bundle holds ops-7's entries" || not_ok "empty bundle"
grep -q '^quorum: met (2 of 2 witnesses fresh)' "$O" && ok "verify --quorum 2 saw both witnesses' cosignatures" ||
    not_ok "no witness quorum"
grep -q '^notice [0-9]* "Maintenance"' "$O" && grep -q '^  customer-a.example *acknowledged' "$O" &&
    ok "acks listed the customer's receipt" || not_ok "no receipts from acks"
grep -q '^notice [0-9]*: Maintenance, effective now$' "$WORK/cwd/notices.log" 2>/dev/null &&
    grep -q '^new notice [0-9]*: "Maintenance", ' "$O" \
    && ok "sync --witness --on-notice reported the Maintenance notice (line and hook)" \
    || not_ok "no notice from sync: $(cat "$WORK/cwd/notices.log" 2>/dev/null)"
finish
