#!/usr/bin/env bash
# Mount: a ledger built here, mounted for real; every file compared byte for byte with what was
# ingested, stat sizes exact, xattrs, EROFS on every kind of write, daemon mode, key checks.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/mountlib.sh"
A=$AUDITFS
L=$WORK/ledger
M=$WORK/mnt

$A keygen basic.example -o key >/dev/null
$A init --ledger $L --key key 2>/dev/null
records 1500 1 > acme.jsonl
records 700 2 > globex.jsonl
records 300 3 > none.jsonl
records 400 4 > auth.jsonl
$A append --ledger $L --key key --stream api --tenant acme --batch-bytes 60000 acme.jsonl >/dev/null
$A checkpoint --ledger $L > early.cp
$A append --ledger $L --key key --stream api --tenant globex globex.jsonl >/dev/null
$A append --ledger $L --key key --stream api none.jsonl >/dev/null
$A append --ledger $L --key key --stream auth --tenant acme auth.jsonl >/dev/null
printf '# SLA acme compute v1\nAvailability 99.9%%\n' > sla1.md
printf '# SLA acme compute v2\nAvailability 99.95%%\n' > sla2.md
printf '{"matrix":"shared responsibility"}\n' > matrix.json
$A publish --ledger $L --key key --name sla/acme-compute sla1.md >/dev/null
$A publish --ledger $L --key key --name sla/acme-compute sla2.md >/dev/null
$A publish --ledger $L --key key --name matrix matrix.json >/dev/null
echo "Maintenance on 2026-12-01 02:00-04:00 UTC" > n1.txt
echo "Kernel update, no downtime" > n2.md
$A notice --ledger $L --key key --title "Planned maintenance (Dec 1)" n1.txt >/dev/null
$A notice --ledger $L --key key --title "Kernel update" n2.md >/dev/null
SIZE=$($A checkpoint --ledger $L | sed -n 2p)

if start_mount $M mount.log --ledger $L --key key.pub; then ok "mount -f is ready (mountinfo)"; else not_ok "mount did not come up: $(cat mount.log)"; finish; exit 1; fi
grep -q "verified checkpoint $SIZE" mount.log && ok "the mount reports the verified checkpoint" || not_ok "log: $(cat mount.log)"

[ "$($T ls $M | tr '\n' ' ')" = "README by-event-day checkpoint documents entries key.pub notices proofs query streams tenants " ] &&
    ok "top-level names" || not_ok "top level: $($T ls $M | tr '\n' ' ')"
cat acme.jsonl globex.jsonl none.jsonl > api.jsonl
$T cmp -s $M/streams/api/all.jsonl api.jsonl && ok "streams/api/all.jsonl is every api payload, byte for byte" || not_ok "api all.jsonl differs"
$T cmp -s $M/streams/auth/all.jsonl auth.jsonl && ok "streams/auth/all.jsonl" || not_ok "auth all.jsonl differs"
days=$($T find $M/streams/api -name '??.jsonl' | sort)
[ -n "$days" ] && cat $days | cmp -s - api.jsonl && ok "day files (YYYY/MM/DD.jsonl) concatenate to all.jsonl" || not_ok "day files"
echo "$days" | head -1 | grep -qE "/streams/api/[0-9]{4}/[0-9]{2}/[0-9]{2}\.jsonl$" && ok "day file names are YYYY/MM/DD.jsonl" || not_ok "day names: $days"
today=$(date -u +%Y/%m/%d)
[ -f "$M/streams/api/$today.jsonl" ] || [ -f "$M/streams/api/$(date -u -d yesterday +%Y/%m/%d).jsonl" ] && ok "the day file is named after the ledger time (UTC)" || not_ok "no day file for $today"
$T cmp -s $M/tenants/acme/api/all.jsonl acme.jsonl && ok "tenants/acme/api/all.jsonl has only acme's api entries" || not_ok "tenant acme"
$T cmp -s $M/tenants/globex/api/all.jsonl globex.jsonl && ok "tenants/globex/api/all.jsonl" || not_ok "tenant globex"
$T cmp -s $M/tenants/acme/auth/all.jsonl auth.jsonl && ok "tenants/acme/auth/all.jsonl" || not_ok "tenant acme auth"
[ ! -e $M/tenants/globex/auth ] && ok "no tenant directory for a stream the tenant has no entries in" || not_ok "globex/auth exists"
tdays=$($T find $M/tenants/acme/api -name '??.jsonl' | sort)
cat $tdays | cmp -s - acme.jsonl && ok "tenant day files" || not_ok "tenant day files"

# stat sizes are exact for every file
bad=0; n=0
while IFS= read -r f; do
    n=$((n + 1))
    [ "$(stat -c %s "$f")" = "$($T cat "$f" | wc -c)" ] || { bad=$((bad + 1)); echo "# size mismatch: $f"; }
done < <($T find $M -type f ! -path "$M/entries/*" ! -path "$M/proofs/*")
[ $n -gt 15 ] && [ $bad -eq 0 ] && ok "stat size equals the bytes read for all $n files" || not_ok "$bad of $n sizes wrong"
# mtime: the ledger time of the newest entry in the file
last_time=$($A log --ledger $L --json --from 2499 --to 2500 | sed 's/.*"time":"\([^"]*\)".*/\1/')
[ "$(stat -c %Y $M/streams/api/all.jsonl)" = "$(date -u -d "$last_time" +%s)" ] && ok "mtime of all.jsonl is the time of its newest entry" || not_ok "mtime $(stat -c %Y $M/streams/api/all.jsonl) vs $last_time"

# documents and notices
$T cmp -s $M/documents/sla/acme-compute/v1.md sla1.md && $T cmp -s $M/documents/sla/acme-compute/v2.md sla2.md && ok "every document version" || not_ok "document versions"
[ "$(readlink $M/documents/sla/acme-compute/current)" = v2.md ] && $T cmp -s $M/documents/sla/acme-compute/current sla2.md && ok "current -> v2.md" || not_ok "current link: $(readlink $M/documents/sla/acme-compute/current)"
$T cmp -s $M/documents/matrix/v1.json matrix.json && ok "document extension from its content type" || not_ok "matrix v1.json"
notices=$($T ls $M/notices | tr '\n' ' ')
echo "$notices" | grep -qE '^[0-9]{12}-planned-maintenance-dec-1\.txt [0-9]{12}-kernel-update\.md $' && ok "notices are <seq>-<slug><ext>, oldest first" || not_ok "notices: $notices"
$T cat $M/notices/*-planned-maintenance-dec-1.txt | cmp -s - n1.txt && ok "notice content" || not_ok "notice content"

# entries, proofs, checkpoint, key
[ "$($T ls $M/entries | wc -l)" = "$SIZE" ] && ok "entries/ lists every entry" || not_ok "entries count"
okl=1
for s in 0 1 42 1499 1500 2899 $((SIZE - 1)); do
    $A leaf --ledger $L $s | $T cmp -s - $M/entries/$s || okl=0
done
[ $okl = 1 ] && ok "entries/<seq> are the exact leaf bytes" || not_ok "entries differ"
[ "$(stat -c %s $M/entries/42)" = "$($A leaf --ledger $L 42 | wc -c)" ] && ok "entries/<seq> size is exact" || not_ok "entry size"
$A prove --ledger $L --index 1234 | $T cmp -s - $M/proofs/1234.json && ok "proofs/<seq>.json is the inclusion proof against the pinned checkpoint" || not_ok "proof differs"
$A checkpoint --ledger $L | $T cmp -s - $M/checkpoint && ok "checkpoint is the signed checkpoint" || not_ok "checkpoint"
$T cmp -s key.pub $M/key.pub && ok "key.pub is the verifier key" || not_ok "key.pub"
$T grep -q "$SIZE" $M/README && $T grep -q "auditfs verify" $M/README && ok "README names the checkpoint and how to verify" || not_ok "README"
expect_exit 1 "a missing name is ENOENT" $T cat $M/streams/nope/all.jsonl
expect_exit 1 "and again (negative entry cache)" $T cat $M/streams/nope/all.jsonl
expect_exit 1 "entries beyond the checkpoint do not exist" $T cat $M/entries/$SIZE

# xattrs
getfattr -n user.auditfs.first_seq --only-values $M/tenants/globex/api/all.jsonl > xa 2>/dev/null
[ "$(cat xa)" = 1500 ] && ok "user.auditfs.first_seq" || not_ok "first_seq: $(cat xa)"
[ "$(getfattr -n user.auditfs.last_seq --only-values $M/tenants/globex/api/all.jsonl 2>/dev/null)" = 2199 ] && ok "user.auditfs.last_seq" || not_ok "last_seq"
[ "$(getfattr -n user.auditfs.checkpoint_size --only-values $M/README 2>/dev/null)" = "$SIZE" ] && ok "user.auditfs.checkpoint_size" || not_ok "checkpoint_size"
root=$($A checkpoint --ledger $L | sed -n 3p)
[ "$(getfattr -n user.auditfs.checkpoint_root --only-values $M/entries/7 2>/dev/null)" = "$root" ] && ok "user.auditfs.checkpoint_root" || not_ok "root xattr"
[ "$(getfattr -n user.auditfs.verified --only-values $M/documents/matrix/v1.json 2>/dev/null)" = yes ] && ok "user.auditfs.verified" || not_ok "verified xattr"

# read-only, owned by the mounting user
expect_fail_with "Read-only" "writing a file is EROFS" $T sh -c "echo x >> $M/README"
expect_fail_with "Read-only" "creating a file is EROFS" $T touch $M/new
expect_fail_with "Read-only" "mkdir is EROFS" $T mkdir $M/d
expect_fail_with "Read-only" "rm is EROFS" $T rm -f $M/README
expect_fail_with "Read-only" "rename is EROFS" $T mv $M/README $M/R
expect_fail_with "Read-only" "chmod is EROFS" $T chmod 644 $M/README
expect_fail_with "Read-only" "truncate is EROFS" $T truncate -s 0 $M/streams/api/all.jsonl
expect_fail_with "Read-only" "setfattr is EROFS" $T setfattr -n user.x -v y $M/README
[ "$(stat -c %u:%g $M/streams/api/all.jsonl)" = "$(id -u):$(id -g)" ] && ok "files are owned by the mounting user" || not_ok "owner"
[ "$(stat -c %a $M/streams/api/all.jsonl)" = 444 ] && [ "$(stat -c %a $M/streams)" = 555 ] && ok "modes 0444 / 0555" || not_ok "modes"

# grep and jq through a day
day=$(echo "$days" | head -1)
[ "$($T grep -c '"actor":"ops-3"' "$day")" = "$(grep -c '"actor":"ops-3"' api.jsonl)" ] && ok "grep through a day file" || not_ok "grep"
if command -v jq >/dev/null; then
    [ "$($T jq -r .resource "$day" | wc -l)" = "$(wc -l < "$day")" ] && ok "jq through a day file" || not_ok "jq"
fi
# random reads across frame boundaries
okr=1
for off in 0 4095 65536 131071 131072 200000 250001; do
    [ "$($T dd if=$M/streams/api/all.jsonl bs=1 skip=$off count=777 2>/dev/null | md5sum)" = "$(dd if=api.jsonl bs=1 skip=$off count=777 2>/dev/null | md5sum)" ] || okr=0
done
[ $okr = 1 ] && ok "reads at arbitrary offsets" || not_ok "offset reads"

stop_mount $M $MOUNT_PID && ok "auditfs umount unmounts and the daemon exits" || not_ok "umount"
! is_mounted $M && ok "no mount left" || not_ok "still mounted"

# daemon mode: usable on the next line
M2=$WORK/mnt2; mkdir -p $M2
MOUNTS+=("$M2")
if $T $A mount --ledger $L --key key.pub $M2 2>d.err; then ok "mount without -f returns once mounted"; else not_ok "daemon mount: $(cat d.err)"; fi
for p in $(pgrep -f -- "mount --ledger $L --key key.pub $M2"); do DAEMONS+=("$p"); done
$T cmp -s $M2/streams/auth/all.jsonl auth.jsonl && ok "the daemonised mount serves on the next line" || not_ok "daemon read"
$T $A umount $M2 && wait_until 10 eval "! is_mounted $M2" && ok "auditfs umount of the daemon" || not_ok "daemon umount"

# the key must be the ledger's
$A keygen basic.example -o other >/dev/null
# (a key other than the one pinned for the origin: exit 5, before anything is read)
expect_exit 5 "mounting with another key is refused (exit 5)" $T $A mount -f --ledger $L --key other.pub $WORK/mnt3
expect_err "not pinned" "the refusal says why"
! is_mounted $WORK/mnt3 && ok "nothing mounted after a refusal" || not_ok "mounted anyway"
# --trusted: the ledger must extend a checkpoint kept from before
if start_mount $WORK/mnt4 t.log --ledger $L --key key.pub --trusted early.cp; then ok "--trusted with an earlier checkpoint of this ledger mounts"; stop_mount $WORK/mnt4 $MOUNT_PID; else not_ok "--trusted: $(cat t.log)"; fi
# (made with another state directory: this party's writer memory refuses to sign a second
# history of the same origin)
AUDITFS_STATE=$WORK/forker $A init --ledger $WORK/fork --key key 2>/dev/null
AUDITFS_STATE=$WORK/forker $A append --ledger $WORK/fork --key key --stream api globex.jsonl >/dev/null
AUDITFS_STATE=$WORK/forker $A checkpoint --ledger $WORK/fork > fork.cp
expect_exit 1 "--trusted with a checkpoint of a forked history is refused" $T $A mount -f --ledger $L --key key.pub --trusted fork.cp $WORK/mnt5
expect_err "does not extend" "the refusal says the history does not extend it"
expect_exit 2 "mount without a mountpoint is a usage error" $A mount --ledger $L --key key.pub
finish
