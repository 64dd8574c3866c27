#!/usr/bin/env bash
# CLI integration: JSON output is JSON. Payloads that look like JSON but are not ({"a": tru})
# are embedded as strings by `query --json/--entries/--prove` and `log --json`; control
# characters from data are escaped in human output.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
export AUDITFS_STATE=$WORK/state
$A keygen j.example/l -o k >/dev/null 2>&1 && $A init --ledger L --key k 2>/dev/null
printf '%s\n' '{"a": tru}' '{"a": true}' '[1, 2' 'plain' '{"b":"x"}' |
    $A append --ledger L --key k --stream s >/dev/null
for fmt in --json --entries --prove; do
    $A query --ledger L $fmt _seq\>=0 > out.jsonl 2>err
    [ "$(wc -l < out.jsonl)" = 5 ] && jq -e . out.jsonl >/dev/null 2>&1 &&
        ok "query $fmt prints valid JSON Lines" || not_ok "query $fmt: $(head -c 300 out.jsonl)"
done
$A log --ledger L --json > log.jsonl 2>err
jq -e . log.jsonl >/dev/null 2>&1 && ok "log --json prints valid JSON" || not_ok "log --json: $(head -c 300 log.jsonl)"
[ "$(jq -r 'select(.seq==0) | .payload' log.jsonl)" = '{"a": tru}' ] && ok "an almost-JSON payload is a string" || not_ok "payload 0"
[ "$(jq -c 'select(.seq==1) | .payload' log.jsonl)" = '{"a":true}' ] && ok "a JSON payload is embedded as JSON" || not_ok "payload 1"
finish
