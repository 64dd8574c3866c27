#!/usr/bin/env bash
# CLI integration: queries, the index, and the equivalence of index-backed answers with a full
# scan (--no-index) under random queries, also with a stale, damaged, deleted or foreign index.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
L=$WORK/ledger
IX=$L/auditfs-index

$A keygen provider.example -o key >/dev/null 2>&1
$A init --ledger $L --key key 2>/dev/null

# varied records: actors, actions, resources, results, a numeric field, some non-JSON lines
gen() { # gen N SEED
    awk -v n="$1" -v s="$2" 'BEGIN {
        split("StopInstance StartInstance DeleteBucket PutObject GetObject", acts, " ");
        for (i = 0; i < n; i++) {
            k = i * 7 + s * 13;
            if (k % 29 == 0) { printf "plain text line %d actor=ops-%d\n", i, k % 11; continue }
            printf "{\"actor\":\"ops-%d\",\"action\":\"ecs:%s\",\"resource\":\"i-%04d\",\"result\":\"%s\",\"bytes\":%d%s}\n",
                k % 11, acts[k % 5 + 1], k % 301, (k % 7) ? "success" : "denied", k % 1000,
                (k % 13 == 0) ? ",\"actor\":\"dup-actor\"" : ""
        } }'
}
gen 1500 1 > a.jsonl
gen 1200 2 > b.jsonl
gen 900 3 > c.jsonl
gen 700 4 > d.jsonl
check "append api/acme/provider/platform" $A append --ledger $L --key key --stream api --tenant acme --party provider --layer platform --batch-bytes 40000 a.jsonl
check "append ops/acme/provider/data" $A append --ledger $L --key key --stream ops --tenant acme --party provider --layer data b.jsonl
check "append api/beta/customer/application" $A append --ledger $L --key key --stream api --tenant beta --party customer --layer application c.jsonl
echo "# SLA" > sla.md; echo "maintenance" > n.txt
check "publish" $A publish --ledger $L --key key --name sla/acme --tenant acme sla.md
check "notice" $A notice --ledger $L --key key --title "Maintenance" --tenant acme --effective 2026-12-01 n.txt
check "append audit (no tenant)" $A append --ledger $L --key key --stream audit d.jsonl
TOTAL=$($A checkpoint --ledger $L | sed -n 2p)

[ -f $IX/meta ] && ok "append keeps an index" || not_ok "no index after append"
check "index status" $A index --ledger $L
expect_out "index: $TOTAL entries" "the index covers every entry"

# basic answers
res=$(grep '"actor":"ops-3"' a.jsonl | sed -n 5p | sed -E 's/.*"resource":"([^"]+)".*/\1/')
n=$($A query --ledger $L actor=ops-3 resource=$res | wc -l)
m=$($A query --ledger $L --no-index actor=ops-3 resource=$res | wc -l)
[ "$n" = "$m" ] && [ "$n" -gt 0 ] && ok "selective query finds $n hits" || not_ok "selective: $n vs $m"
$A query --ledger $L actor=ops-3 resource=$res | jq -e . >/dev/null 2>&1 && ok "default output pipes into jq" || { command -v jq >/dev/null && not_ok "jq" || ok "jq not installed (skipped)"; }
$A query --ledger $L --stats actor=ops-3 resource=$res >/dev/null 2>stats
grep -qE "index used \(covers $TOTAL\)" stats && ok "--stats reports the index" || not_ok "stats: $(cat stats)"
read_n=$(sed -E 's/.* ([0-9]+) entries read.*/\1/' stats)
[ "$read_n" -le 20 ] && ok "a selective query reads only candidates ($read_n)" || not_ok "read $read_n entries"
[ "$($A query --ledger $L _type=document | wc -l)" = 1 ] && ok "_type=document" || not_ok "_type=document"
$A query --ledger $L _type=notice --entries | grep -q '"title":"Maintenance"' && ok "--entries prints headers" || not_ok "notice entries"
$A query --ledger $L --grep '^plain text' _stream=ops | head -1 | grep -q '^plain text line' && ok "--grep matches non-JSON payloads" || not_ok "grep"
[ "$($A query --ledger $L actor=ops-3 --limit 5 | wc -l)" = 5 ] && ok "--limit" || not_ok "limit"
$A query --ledger $L --prove --limit 1 actor=ops-1 > proved
grep -q '"proof":{"leaf_index":' proved && grep -q '"checkpoint":"provider.example' proved && ok "--prove adds the proof and checkpoint" || not_ok "prove: $(head -c 300 proved)"
seq0=$(sed -E 's/^\{"seq":([0-9]+),.*/\1/' proved)
$A prove --ledger $L --index $seq0 > p.json
grep -qF "$(cat p.json)" proved && ok "--prove's proof equals auditfs prove's" || not_ok "proof differs"
$A query --ledger $L --json _stream=ops | grep -v '^{' | head -1 | grep -q '^"plain text' && ok "--json quotes non-JSON payloads" || not_ok "json strings"
[ "$($A query --ledger $L --since 2000-01-01 --until 2100-01-01 _tenant=beta | wc -l)" = 900 ] && ok "--since/--until" || not_ok "since/until"
[ "$($A query --ledger $L --until 2000-01-01 | wc -l)" = 0 ] && ok "--until in the past finds nothing" || not_ok "until past"
today=$(date -u +%F)
[ "$($A query --ledger $L _time=$today _tenant=beta | wc -l)" = 900 ] && ok "_time=DATE is the whole day" || not_ok "_time=date"

# malformed expressions: exit 3 and the message points at the term
expect_exit 3 "a term without operator" $A query --ledger $L _stream=api actor
expect_err "term 2 'actor': no operator" "the message names term 2"
expect_exit 3 "an unknown header field" $A query --ledger $L _stram=api
expect_err "unknown header field '_stram'" "the message names the field"
expect_exit 3 "a bad time" $A query --ledger $L '_time>=last-week'
expect_exit 3 "a bad --grep" $A query --ledger $L --grep 'a('
expect_exit 2 "a bad --since is a usage error" $A query --ledger $L --since tomorrow
check "query --help" $A query --help
check "index --help" $A index --help

# random queries: the index-backed answer equals the full scan
RANDOM=4242
pick() { local a=("$@"); echo "${a[$((RANDOM % ${#a[@]}))]}"; }
random_query() {
    local n=$((RANDOM % 3 + 1)) i terms=()
    for ((i = 0; i < n; i++)); do
        case $((RANDOM % 12)) in
        0|1) terms+=("actor=ops-$((RANDOM % 12))") ;;
        2) terms+=("resource=i-$(printf %04d $((RANDOM % 310)))") ;;
        3) terms+=("$(pick action=ecs:StopInstance action=ecs:GetObject 'action~ecs:*Object' 'action~*Instance')") ;;
        4) terms+=("$(pick result=denied result!=success result=success)") ;;
        5) terms+=("$(pick _stream=api _stream=ops _stream=audit _stream!=api _stream=nope)") ;;
        6) terms+=("$(pick _tenant=acme _tenant=beta _tenant= _tenant!=acme)") ;;
        7) terms+=("$(pick _party=provider _party=customer _layer=data _layer=platform _layer=application)") ;;
        8) terms+=("_seq>=$((RANDOM % TOTAL))" "_seq<$((RANDOM % TOTAL + 100))") ;;
        9) terms+=("$(pick 'bytes>500' 'bytes<=10' 'bytes=7' actor=dup-actor)") ;;
        10) terms+=("$(pick _type=document _type=notice _type=log _time=$today '_time<2000-01-01' "_time>=$today")") ;;
        11) terms+=("actor=ops-$((RANDOM % 11))" "actor=ops-$((RANDOM % 11))") ;;
        esac
    done
    printf '%s\n' "${terms[@]}"
}
equivalence() { # equivalence LABEL COUNT [EXTRA OPTIONS...]
    local label=$1 count=$2 bad=0 total=0 i; shift 2
    for ((i = 0; i < count; i++)); do
        mapfile -t q < <(random_query)
        $A query --ledger $L --entries "$@" "${q[@]}" > got 2>got.err || { bad=$((bad + 1)); echo "# exit $?: ${q[*]}: $(head -c 200 got.err)"; continue; }
        $A query --ledger $L --entries --no-index "${q[@]}" > want 2>/dev/null
        if ! cmp -s got want; then bad=$((bad + 1)); echo "# differs: ${q[*]} ($(wc -l < got) vs $(wc -l < want))"; fi
        total=$((total + $(wc -l < want)))
    done
    [ $bad -eq 0 ] && ok "$label: $count random queries equal the full scan ($total hits)" || not_ok "$label: $bad of $count differ"
}
equivalence "fresh index" 60

# stale index: restore an old copy, query without updating it (the tail is scanned)
cp -a $IX old-index
gen 400 5 > e.jsonl
check "append more" $A append --ledger $L --key key --stream api --tenant acme e.jsonl
TOTAL=$($A checkpoint --ledger $L | sed -n 2p)
rm -rf $IX && cp -a old-index $IX
equivalence "stale index (not updated)" 25 --no-update
$A query --ledger $L --stats actor=ops-1 >/dev/null 2>stats
grep -q "covers $TOTAL" stats && ok "a query catches the index up" || not_ok "catch-up: $(cat stats)"

# damaged index files: flipped bytes in a run, truncated run, garbage and deleted files
run=$(ls $IX/r*.ix | head -1)
size=$(stat -c %s "$run")
for off in 100 $((size / 2)) $((size - 5)); do
    cp "$run" run.bak
    printf '\xff\xfe' | dd of="$run" bs=1 seek=$off conv=notrunc 2>/dev/null
    equivalence "byte flipped at $off of a run" 10 --no-update
    cp run.bak "$run"
done
expect_exit 0 "index --check passes on the restored index" $A index --ledger $L --check
printf '\xff' | dd of="$run" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
expect_exit 1 "index --check finds the damage" $A index --ledger $L --check
$A query --ledger $L --no-update actor=ops-1 >/dev/null 2>warn
cp run.bak "$run"
truncate -s $((size / 3)) "$run"
equivalence "truncated run" 10 --no-update
rm -f "$run"
equivalence "deleted run" 10 --no-update
echo garbage > $IX/meta
equivalence "garbage meta" 5 --no-update
rm -rf $IX
equivalence "no index at all" 5 --no-update
check "index --rebuild" $A index --ledger $L --rebuild
expect_exit 0 "index --check after rebuild" $A index --ledger $L --check

# an index that belongs to another ledger is ignored
# (another origin: one key never signs two ledgers of one origin)
$A init --ledger $WORK/other --key key --origin query.example/other 2>/dev/null
gen 300 9 | $A append --ledger $WORK/other --key key --stream api >/dev/null
rm -rf $IX && cp -a $WORK/other/auditfs-index $IX
equivalence "foreign index" 10 --no-update
$A query --ledger $L --no-update --stats actor=ops-1 >/dev/null 2>stats
grep -q "another ledger" stats && ok "a foreign index is recognised" || not_ok "foreign: $(cat stats)"

# a read-only clone without the index answers the same
git clone -q --bare $L clone.git 2>/dev/null
git -C clone.git update-ref refs/heads/main "$(git -C $L rev-parse refs/heads/main)"
chmod -R a-w clone.git
for q in "actor=ops-2" "_tenant=beta resource=i-0100" "_stream=ops result=denied"; do
    $A query --ledger clone.git --entries $q > got 2>/dev/null
    $A query --ledger $L --entries $q > want
    cmp -s got want && ok "clone without index: $q" || not_ok "clone differs: $q"
done
chmod -R u+w clone.git

# custom fields
check "index --fields" $A index --ledger $L --fields actor,bytes
$A query --ledger $L --stats bytes=7 >/dev/null 2>stats
grep -q "index used" stats && ok "a configured numeric field is indexed" || not_ok "bytes index"
equivalence "custom fields" 15

finish
