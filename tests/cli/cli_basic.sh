#!/usr/bin/env bash
# CLI integration: keys, init, append, publish, notice, read, prove, verify, exit codes.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
L=$WORK/ledger

check "keygen writes a signer and a verifier key" $A keygen provider.example/acme -o key
[ "$(stat -c %a key)" = 600 ] && ok "signer key is mode 0600" || not_ok "signer key mode $(stat -c %a key)"
grep -qE '^provider.example/acme\+[0-9a-f]{8}\+A' key.pub && ok "verifier key format" || not_ok "verifier key format"
expect_exit 4 "keygen refuses to overwrite" $A keygen x -o key
cp key loose && chmod 644 loose
expect_exit 5 "a group/other-readable signer key is refused" $A init --ledger $WORK/l2 --key loose
expect_err "mode 0644" "the refusal names the mode"
expect_exit 2 "missing --ledger is a usage error" env -u AUDITFS_LEDGER $A init --key key

check "init creates a ledger" $A init --ledger $L --key key
expect_exit 4 "init refuses an existing ledger" $A init --ledger $L --key key
git -C $L fsck --strict >/dev/null 2>&1 && ok "git fsck is clean" || not_ok "git fsck"

records 2500 > recs.jsonl
$A append --ledger $L --key key --stream api --tenant acme --party provider --layer platform \
    --batch-bytes 100000 recs.jsonl > acks 2>err
[ $? -eq 0 ] && ok "append 2500 records" || not_ok "append"
[ "$(tail -1 acks)" = 2500 ] && ok "append prints the committed tree size" || not_ok "acks: $(tail -1 acks)"
[ "$(wc -l < acks)" -gt 1 ] && ok "batches commit by size" || not_ok "one batch only"

check "verify passes" $A verify --ledger $L --key key.pub
expect_out "ok: provider.example/acme: 2500 entries" "verify summary"
AUDITFS_LEDGER=$L check "AUDITFS_LEDGER is honoured" $A verify --key key.pub

# leaf and log
$A leaf --ledger $L 42 > leaf42
grep -q '^seq 42$' leaf42 && grep -q '^tenant acme$' leaf42 && ok "leaf 42 has its headers" || not_ok "leaf headers"
tail -c +$(( $(grep -b -m1 '^$' leaf42 | cut -d: -f1) + 2 )) leaf42 > payload42
sed -n 43p recs.jsonl | tr -d '\n' | cmp -s - payload42 && ok "leaf payload is the input line byte for byte" || not_ok "payload differs"
[ "$($A leaves --ledger $L --from 10 --to 20 | wc -l)" = 10 ] && ok "leaves prints one line per entry" || not_ok "leaves"
$A leaves --ledger $L --from 42 --to 43 | base64 -d | cmp -s - leaf42 && ok "leaves base64 decodes to the leaf" || not_ok "leaves b64"
$A log --ledger $L --json --from 7 --to 8 | grep -q '"payload":{"seq":7,' && ok "log --json embeds JSON payloads" || not_ok "log json"

# bad input: FILE:LINE, exit 3, everything before committed
printf '{"ok":1}\n{"ok":2}\n{"bad":"\xff"}\n{"never":1}\n' > bad.jsonl
expect_exit 3 "invalid UTF-8 stops the append" $A append --ledger $L --key key --stream api bad.jsonl
expect_err "bad.jsonl:3: invalid UTF-8" "the error names FILE:LINE"
$A log --ledger $L --from 2500 | grep -c '"ok"' | grep -q 2 && ok "lines before the bad one are committed" || not_ok "lines before"
$A log --ledger $L --json --from 2500 | grep -q never && not_ok "nothing after the bad line" || ok "nothing after the bad line"
printf 'a\0b\n' > nul.txt
expect_exit 3 "a NUL byte is refused" $A append --ledger $L --key key --stream api nul.txt
printf 'no newline' > unterminated.txt
expect_exit 3 "an unterminated last line is refused" $A append --ledger $L --key key --stream api unterminated.txt
expect_err "unterminated" "the message says unterminated"
head -c 70000 /dev/zero | tr '\0' 'x' > long.txt; echo >> long.txt
expect_exit 3 "a line over the size limit is refused" $A append --ledger $L --key key --stream api long.txt
size_before=$($A checkpoint --ledger $L | sed -n 2p)
printf 'fine\n\xfe\xfe\nfine again\n' > q.txt
check "--quarantine stores bad lines and goes on" $A append --ledger $L --key key --stream api --quarantine q.txt
$A log --ledger $L --json --from $size_before | grep -q '"stream":"quarantine"' && ok "quarantined line is in the quarantine stream" || not_ok "quarantine stream"
qseq=$((size_before + 1))
$A leaf --ledger $L $qseq | tail -c 2 | od -An -tx1 | grep -q 'fe fe' && ok "quarantined bytes are byte-exact" || not_ok "quarantine bytes"

# documents and notices
echo "# SLA acme compute v1: 99.9%" > sla1.md
echo "# SLA acme compute v2: 99.95%" > sla2.md
check "publish v1" $A publish --ledger $L --key key --name sla/acme-compute sla1.md
expect_out "sla/acme-compute v1" "first version is 1"
check "publish v2" $A publish --ledger $L --key key --name sla/acme-compute sla2.md
expect_out "sla/acme-compute v2" "second version is 2"
echo "Maintenance on 2026-12-01" > n1.txt
check "notice" $A notice --ledger $L --key key --title "Planned maintenance" --effective 2026-12-01 n1.txt
expect_exit 2 "a bad document name is a usage error" $A publish --ledger $L --key key --name ../x sla1.md
check "verify after documents" $A verify --ledger $L --key key.pub
expect_out "2 documents, 1 notices" "verify counts documents and notices"

# keys that are not the ledger's
check "keygen other" $A keygen other.example -o other
expect_exit 5 "append with another key is refused" $A append --ledger $L --key other --stream api recs.jsonl
# a key that is not the one pinned for the ledger's origin is refused before anything is read
expect_exit 5 "verify with another key fails" $A verify --ledger $L --key other.pub

# proofs
size=$($A checkpoint --ledger $L | sed -n 2p)
check "prove" $A prove --ledger $L --index 42
grep -q "\"leaf_index\":42,\"tree_size\":$size" .out && ok "proof JSON fields" || not_ok "proof fields"
check "prove --size" $A prove --ledger $L --index 42 --size 100
check "consistency" $A consistency --ledger $L --from 100
expect_exit 2 "prove beyond the tree is refused" $A prove --ledger $L --index $size
$A prove --ledger $L --index 42 --tlog-proof > p.tlog
head -1 p.tlog | grep -qx 'c2sp.org/tlog-proof@v1' && ok "tlog-proof header" || not_ok "tlog-proof"

# --trusted: an old checkpoint must be a prefix
$A checkpoint --ledger $L > old.cp
check "verify --trusted with the ledger's own past checkpoint" $A verify --ledger $L --key key.pub --trusted old.cp
expect_out "extends the trusted checkpoint" "verify says the trusted checkpoint was checked"

# usage and help
for c in keygen init append publish notice checkpoint verify prove consistency leaf leaves log; do
    $A $c --help | grep -q "^usage: auditfs $c" || { not_ok "$c --help"; continue; }
done
ok "every command has --help"
expect_exit 2 "unknown command" $A frobnicate
finish
