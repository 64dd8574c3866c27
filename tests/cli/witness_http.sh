#!/usr/bin/env bash
# The C2SP tlog-witness protocol with real processes on 127.0.0.1: a provider, two customer
# witnesses and an assessor witness, each with its own AUDITFS_STATE and its own copy (git clone
# --mirror). Rounds of append -> witness request -> fetch -> verify --quorum; a split view (one
# witness shown a forked history signed by the provider) exposed by the next round with signed
# evidence; quorum below K fails; hostile requests get the spec's statuses and never change the
# witness state; the per-log rate limit answers 429. Every server is killed at the end.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
export AUDITFS_STATE=$WORK/state-provider
P=$WORK/provider.git
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# serve NAME KEY [extra args]: starts a witness for the provider's log; sets URL_<NAME>
serve() {
    local name=$1 key=$2; shift 2
    AUDITFS_STATE=$WORK/state-$name $A witness serve --key $key --listen 127.0.0.1:0 \
        --log provider.example/acme=p.key.pub "$@" >$WORK/$name.out 2>$WORK/$name.log &
    PIDS+=($!)
    for _ in $(seq 100); do grep -q '^listening on ' $WORK/$name.out 2>/dev/null && break; sleep 0.1; done
    local addr
    addr=$(sed -n 's/^listening on //p' $WORK/$name.out)
    [ -n "$addr" ] && ok "witness $name listens on $addr" || not_ok "witness $name did not start"
    eval "URL_$name=http://$addr"
}
# post NAME BODYFILE: POSTs to the witness; sets CODE, CTYPE and writes $WORK/resp
post() {
    local url
    eval "url=\$URL_$1"
    read -r CODE CTYPE < <(curl -s -o $WORK/resp -w '%{http_code} %{content_type}\n' \
        --max-time 10 --data-binary @"$2" "$url/add-checkpoint")
}
state_sum() { cat $WORK/state-$1/witness/*/logs/*.checkpoint 2>/dev/null | sha256sum; }

$A keygen provider.example/acme -o p.key >/dev/null
$A keygen customer-a.example -o a.key >/dev/null
$A keygen customer-b.example -o b.key >/dev/null
$A keygen assessor.example -o s.key >/dev/null
$A keygen other.example/log -o o.key >/dev/null
$A init --ledger $P --key p.key >/dev/null 2>&1
serve A a.key --rate 100000
serve B b.key --rate 100000
serve S s.key --rate 100000
WIT=(--witness "$URL_A=a.key.pub" --witness "$URL_B=b.key.pub" --witness "$URL_S=s.key.pub")

# ---- round 1: append, notice, cosign over HTTP ----
records 100 | $A append --ledger $P --key p.key --stream api --tenant acme >/dev/null
echo "maintenance on Dec 1" > n1.md
$A notice --ledger $P --key p.key --title "Planned maintenance" --effective 2026-12-01 n1.md >/dev/null
check "round 1: all three witnesses cosign over HTTP" $A witness request --ledger $P "${WIT[@]}"
[ "$(grep -c 'cosigned size 101' $WORK/.out)" = 3 ] && ok "three cosignatures stored" || not_ok "$(cat $WORK/.out)"
[ "$($A checkpoint --ledger $P | grep -c '^— ')" = 4 ] && ok "the checkpoint carries the log signature and three cosignatures" \
    || not_ok "signature lines"
grep -q 'old 0 size 101: 200' $WORK/A.log && ok "witness A logged the request" || not_ok "A log: $(cat $WORK/A.log)"

# every party on its own copy
for who in custA custB asr; do git clone -q --mirror $P $who.git; done
check "the assessor's copy verifies with a quorum of 3" $A verify --ledger asr.git --key p.key.pub \
    --witness a.key.pub --witness b.key.pub --witness s.key.pub --quorum 3 --max-age 1h

# ---- round 2: the provider remembers each witness's size: the proof goes out the first time ----
ls $WORK/state-provider/origins/*/witnesses/customer-b.example+* >/dev/null 2>&1 \
    && ok "the provider remembers witness B's size in its state directory" || not_ok "no witness memory"
records 20 3 | $A append --ledger $P --key p.key --stream api --tenant acme >/dev/null
check "round 2: all cosign with consistency proofs" $A witness request --ledger $P "${WIT[@]}"
grep -q 'old 101 size 121: 200' $WORK/B.log && ! grep -q 'size 121: 409' $WORK/B.log \
    && ok "witness B cosigned the proof from 101 at once (no 409 round trip)" || not_ok "B log: $(cat $WORK/B.log)"
git -C asr.git fetch -q
check "after a fetch the assessor verifies size 121 with quorum 3" $A verify --ledger asr.git --key p.key.pub \
    --witness a.key.pub --witness b.key.pub --witness s.key.pub --quorum 3
expect_out "checkpoint: size 121" "the assessor sees size 121"
check "acks: every witness acknowledged the notice" $A acks --ledger asr.git --witness a.key.pub --witness b.key.pub --witness s.key.pub --json
jq -s -e 'map(select(.type=="notice"))[0] | (.acks | length) == 3 and .pending == []' $WORK/.out >/dev/null \
    && ok "acks: 3 receipts for the notice, none pending" || not_ok "acks: $(cat $WORK/.out)"

# a notice published with --witness is sent to the witnesses at once: receipts follow
echo "security bulletin" > n2.md
check "notice --witness: published and cosigned" $A notice --ledger $P --key p.key --title "Bulletin 2" n2.md "${WIT[@]}"
[ "$(grep -c 'cosigned size 122' $WORK/.out)" = 3 ] && ok "all three witnesses cosigned the notice's checkpoint" \
    || not_ok "notice cosigs: $(cat $WORK/.out)"
check "acks for the bulletin" $A acks --ledger $P --witness a.key.pub --witness b.key.pub --witness s.key.pub --json
jq -s -e 'map(select(.title=="Bulletin 2"))[0] | (.acks | length) == 3 and (.acks | all(.tree_size == 122))' $WORK/.out >/dev/null \
    && ok "3 receipts for the bulletin at size 122" || not_ok "bulletin acks: $(cat $WORK/.out)"

# append --witness: every committed batch is cosigned as it lands
records 30 6 | $A append --ledger $P --key p.key --stream api --batch-bytes 2000 --witness "$URL_A=a.key.pub" \
    --witness "$URL_S=s.key.pub" >appended 2>witnessed
[ "$(wc -l < appended)" -ge 2 ] && ok "append committed several batches" || not_ok "batches: $(cat appended)"
[ "$(grep -c 'cosigned size' witnessed)" = $(( 2 * $(wc -l < appended) )) ] \
    && ok "each batch's checkpoint was cosigned by both witnesses" || not_ok "append witnesses: $(cat witnessed)"
last=$(tail -1 appended)
$A checkpoint --ledger $P | grep -c '^— ' | grep -qx 3 && ok "the head ($last) carries both cosignatures" \
    || not_ok "head cosigs"
check "the provider completes the round with B" $A witness request --ledger $P "${WIT[@]}"

# ---- quorum below K: only customer A cosigns round 3 ----
records 5 4 | $A append --ledger $P --key p.key --stream api --tenant acme >/dev/null
check "round 3: only witness A is asked" $A witness request --ledger $P --witness "$URL_A=a.key.pub"
git -C asr.git fetch -q
expect_exit 1 "quorum 2 of 3 fails with one cosignature" $A verify --ledger asr.git --key p.key.pub \
    --witness a.key.pub --witness b.key.pub --witness s.key.pub --quorum 2
check "quorum 1 of 3 passes" $A verify --ledger asr.git --key p.key.pub \
    --witness a.key.pub --witness b.key.pub --witness s.key.pub --quorum 1
check "round 3 completed by B and S" $A witness request --ledger $P "${WIT[@]}"
git -C asr.git fetch -q
check "now quorum 3 passes" $A verify --ledger asr.git --key p.key.pub \
    --witness a.key.pub --witness b.key.pub --witness s.key.pub --quorum 3

# ---- hostile requests against witness A (at the head's size) ----
base=$(git -C $P show refs/heads/main:checkpoint | sed -n 2p)
records 4 5 | $A append --ledger $P --key p.key --stream api --tenant acme >/dev/null
git -C $P show refs/heads/main:checkpoint > cp.new
{ echo "old $base"; $A consistency --ledger $P --from $base --to $((base + 4)) | jq -r '.consistency[]'; echo; cat cp.new; } > good.body
nproof=$(( $(grep -c '' good.body) - 7 ))
[ "$nproof" -ge 1 ] && ok "a valid request with $nproof proof lines" || not_ok "proof lines: $nproof"
sumA=$(state_sum A)
head -c 100000 /dev/zero | tr '\0' x > big.body
post A big.body; [ "$CODE" = 413 ] && ok "oversized body: 413" || not_ok "oversized: $CODE"
# the same body without a Content-Length (chunked): the bound holds while reading, not only up front
CODE=$(curl -s -o $WORK/resp -w '%{http_code}' --max-time 10 -H 'Transfer-Encoding: chunked' \
    --data-binary @big.body "$URL_A/add-checkpoint")
[ "$CODE" = 413 ] && ok "oversized chunked body (no Content-Length): 413" || not_ok "oversized chunked: $CODE"
# a proof line replaced by another valid hash
awk 'NR==2 { print "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; next } { print }' good.body > badproof.body
post A badproof.body; [ "$CODE" = 422 ] && ok "bad consistency proof: 422" || not_ok "bad proof: $CODE $(cat $WORK/resp)"
awk 'NR==2 { next } { print }' good.body > shortproof.body
post A shortproof.body; [ "$CODE" = 422 ] && ok "truncated proof: 422" || not_ok "truncated proof: $CODE"
$A init --ledger other.git --key o.key >/dev/null 2>&1
{ echo "old 0"; echo; git -C other.git show refs/heads/main:checkpoint; } > unknown.body
post A unknown.body; [ "$CODE" = 404 ] && ok "unknown log: 404" || not_ok "unknown log: $CODE"
python3 - good.body badsig.body <<'EOF'
import sys
t = open(sys.argv[1], encoding='utf-8').read()
i = t.rindex('— provider.example/acme ') + len('— provider.example/acme ') + 10
t = t[:i] + ('B' if t[i] != 'B' else 'C') + t[i + 1:]
open(sys.argv[2], 'w', encoding='utf-8').write(t)
EOF
post A badsig.body; [ "$CODE" = 403 ] && ok "bad log signature: 403" || not_ok "bad signature: $CODE $(cat $WORK/resp)"
sed '1s/.*/old 999/' good.body > toobig.body
post A toobig.body; [ "$CODE" = 400 ] && ok "old size > checkpoint size: 400" || not_ok "old > size: $CODE"
{ echo "old 0"; echo; git -C $P show refs/heads/main~4:checkpoint; } > replay.body
post A replay.body
[ "$CODE" = 409 ] && ok "replayed old request: 409" || not_ok "replay: $CODE"
[ "$(cat $WORK/resp)" = "$base" ] && ok "409 body is the witness's size" || not_ok "409 body: $(cat $WORK/resp)"
[ "$CTYPE" = text/x.tlog.size ] && ok "409 content type text/x.tlog.size" || not_ok "content type: $CTYPE"
printf 'garbage\n' > garbage.body
post A garbage.body; [ "$CODE" = 400 ] && ok "malformed body: 400" || not_ok "garbage: $CODE"
printf 'old %s\nnot-base64!\n\n' $base > badline.body
post A badline.body; [ "$CODE" = 400 ] && ok "malformed proof line: 400" || not_ok "bad line: $CODE"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$URL_A/add-checkpoint")
[ "$code" = 405 ] && ok "GET: 405" || not_ok "GET: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --data-binary @good.body "$URL_A/other")
[ "$code" = 404 ] && ok "unknown path: 404" || not_ok "path: $code"
[ "$(state_sum A)" = "$sumA" ] && ok "no hostile request changed witness A's state" || not_ok "state changed"
post A good.body
[ "$CODE" = 200 ] && grep -q '^— customer-a.example ' $WORK/resp && ok "the valid request: 200 with a cosignature line" \
    || not_ok "valid: $CODE $(cat $WORK/resp)"
[ "$(state_sum A)" != "$sumA" ] && ok "the valid request advanced the state" || not_ok "state did not move"
sumA=$(state_sum A)
post A good.body; [ "$CODE" = 409 ] && ok "replaying the valid request: 409" || not_ok "replay valid: $CODE"
[ "$(state_sum A)" = "$sumA" ] && ok "the replay changed nothing" || not_ok "replay changed state"
check "the provider catches up the other witnesses" $A witness request --ledger $P "${WIT[@]}"

# ---- split view: witness B is shown a fork of the same size ----
# (signed with a state of its own: the provider's writer memory refuses to sign a second history)
git clone -q --mirror $P fork.git
records 3 7 | AUDITFS_STATE=$WORK/state-forger $A append --ledger fork.git --key p.key --stream api --tenant acme >/dev/null
records 3 8 | $A append --ledger $P --key p.key --stream api --tenant acme >/dev/null
[ "$(git -C fork.git show main:checkpoint | sed -n 2p)" = "$(git -C $P show main:checkpoint | sed -n 2p)" ] \
    && ok "the fork and the real ledger have the same size" || not_ok "sizes differ"
check "witness B cosigns the fork (it extends what B saw)" $A witness request --ledger fork.git --witness "$URL_B=b.key.pub"
check "witnesses A and S cosign the real ledger" $A witness request --ledger $P --witness "$URL_A=a.key.pub" --witness "$URL_S=s.key.pub"
sumB=$(state_sum B)
expect_exit 1 "the next round: witness B refuses the real ledger" $A witness request --ledger $P --witness "$URL_B=b.key.pub"
expect_err "REFUSED \(409\).*fork or split view" "the provider is told why (409: another root for that size)"
grep -q 'FORK, evidence ' $WORK/B.log && ok "witness B logged the fork with its evidence" || not_ok "B log"
ev=$(ls -d $WORK/state-B/witness/*/evidence/* 2>/dev/null | head -1)
cmp -s "$ev/cosigned.checkpoint" <(git -C fork.git show main:checkpoint) && ok "evidence: the fork's signed checkpoint B cosigned" \
    || not_ok "cosigned evidence"
cmp -s "$ev/offered.checkpoint" <(git -C $P show main:checkpoint) && ok "evidence: the real signed checkpoint of the same size" \
    || not_ok "offered evidence"
[ "$(sed -n 2p "$ev/cosigned.checkpoint")" = "$(sed -n 2p "$ev/offered.checkpoint")" ] && \
    [ "$(sed -n 3p "$ev/cosigned.checkpoint")" != "$(sed -n 3p "$ev/offered.checkpoint")" ] \
    && ok "evidence: same size, different roots" || not_ok "evidence contents"
[ "$(state_sum B)" = "$sumB" ] && ok "the refusal did not change B's state" || not_ok "B state changed"
git -C asr.git fetch -q
AUDITFS_STATE=$WORK/state-forger $A checkpoint --ledger fork.git --key p.key.pub > cpFork
expect_exit 1 "the assessor cannot attach B's cosignature of the fork to the real ledger" \
    $A cosignatures add --ledger asr.git --witness b.key.pub cpFork
expect_exit 1 "quorum 3 fails for the real ledger: B never cosigned it" $A verify --ledger asr.git --key p.key.pub \
    --witness a.key.pub --witness b.key.pub --witness s.key.pub --quorum 3
check "quorum 2 of the honest witnesses passes" $A verify --ledger asr.git --key p.key.pub \
    --witness a.key.pub --witness b.key.pub --witness s.key.pub --quorum 2

# ---- a local witness agrees with the HTTP one: customer A cosigns its own copy too ----
git -C custA.git fetch -q
AUDITFS_STATE=$WORK/stA-local check "customer A also cosigns its own copy locally" $A cosign --ledger custA.git --key a.key --log-key p.key.pub

# ---- rate limit: a witness taking 1 request per minute (bursts of 10) ----
serve R a.key --rate 1
codes=""
for _ in $(seq 12); do post R replay.body; codes="$codes $CODE"; done
set -- $codes
[ "${11}" = 429 ] && ! echo "${@:1:10}" | grep -q 429 && ok "the 11th request in a burst gets 429, the first 10 do not" ||
    not_ok "burst of 10: codes $codes"
case "$codes" in " 200"*) ok "the first request was served";; *) not_ok "first: $codes";; esac

finish
