#!/usr/bin/env bash
# The witness cycle for a long time: a provider, two customer witnesses and an assessor witness,
# each with its own state and its own copy, on 127.0.0.1. Every round: the provider appends
# (and every 5th round publishes a notice), witnesses are asked over HTTP, the assessor fetches
# and verifies with a quorum of 3 and --max-age. Every 10th round the provider shows customer B
# a forked history of the same size; the next round must be refused by B (a fork, with
# evidence) and the real ledger must lack its quorum of 3 until B is replaced.
# usage: contrib/witness-soak.sh [ROUNDS (default 50)] [AUDITFS binary]
# Prints one line per round and a summary; exit 1 on the first unexpected result.
set -u
rounds=${1:-50}
A=$(realpath "${2:-build/cli/auditfs}")
W=$(mktemp -d "${TMPDIR:-/tmp}/auditfs-soak.XXXXXX")
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$W"' EXIT
cd "$W" || exit 1
export AUDITFS_STATE=$W/state-provider
die() { echo "FAIL round $r: $*" >&2; exit 1; }

serve() { # NAME KEY: starts a witness; sets URL_NAME and PID_NAME
    AUDITFS_STATE=$W/state-$1 "$A" witness serve --key "$2" --listen 127.0.0.1:0 --rate 100000 \
        --log provider.example/acme=p.key.pub >"$1.out" 2>"$1.log" &
    PIDS+=($!)
    eval "PID_$1=$!"
    for _ in $(seq 100); do grep -q '^listening' "$1.out" 2>/dev/null && break; sleep 0.1; done
    eval "URL_$1=http://$(sed -n 's/^listening on //p' "$1.out")"
}
"$A" keygen provider.example/acme -o p.key >/dev/null
for k in a b s; do "$A" keygen "$k.example" -o $k.key >/dev/null; done
"$A" init --ledger P --key p.key >/dev/null 2>&1
serve A a.key; serve B b.key; serve S s.key
git clone -q --mirror P asr.git
forks=0 caught=0 t0=$(date +%s)
for r in $(seq 1 "$rounds"); do
    awk -v r="$r" 'BEGIN { for (i = 0; i < 50; i++) printf "{\"round\":%d,\"i\":%d}\n", r, i }' |
        "$A" append --ledger P --key p.key --stream api >/dev/null || die "append"
    if [ $((r % 5)) = 0 ]; then
        echo "notice $r" > n.md
        "$A" notice --ledger P --key p.key --title "Notice $r" n.md >/dev/null || die "notice"
    fi
    size=$(git -C P show main:checkpoint | sed -n 2p)
    if [ $((r % 10)) = 0 ]; then
        # split view: B sees a fork of the next size; A and S see the real ledger
        rm -rf F.git; git clone -q --mirror P F.git
        echo '{"evil":1}' | "$A" append --ledger F.git --key p.key --stream api >/dev/null
        echo '{"real":1}' | "$A" append --ledger P --key p.key --stream api >/dev/null
        "$A" witness request --ledger F.git --witness "$URL_B=b.key.pub" >/dev/null 2>&1 || die "B should cosign the fork"
        "$A" witness request --ledger P --witness "$URL_A=a.key.pub" --witness "$URL_S=s.key.pub" >/dev/null || die "A, S"
        forks=$((forks + 1))
        if "$A" witness request --ledger P --witness "$URL_B=b.key.pub" >/dev/null 2>err; then die "B accepted both"; fi
        grep -q 'fork or split view' err && caught=$((caught + 1)) || die "B's refusal: $(cat err)"
        git -C asr.git fetch -q
        "$A" verify --ledger asr.git --key p.key.pub --witness a.key.pub --witness b.key.pub \
            --witness s.key.pub --quorum 3 >/dev/null 2>&1 && die "quorum 3 passed with B forked"
        # B is replaced by a fresh witness state (its operator restores from the evidence)
        kill "$PID_B"; wait "$PID_B" 2>/dev/null
        rm -rf "$W/state-B"; serve B b.key
    fi
    "$A" witness request --ledger P --witness "$URL_A=a.key.pub" --witness "$URL_B=b.key.pub" \
        --witness "$URL_S=s.key.pub" >/dev/null || die "witness request"
    git -C asr.git fetch -q
    "$A" verify --ledger asr.git --key p.key.pub --witness a.key.pub --witness b.key.pub \
        --witness s.key.pub --quorum 3 --max-age 1h >/dev/null || die "quorum 3"
    echo "round $r: size $(git -C P show main:checkpoint | sed -n 2p) witnessed by 3 ($(( $(date +%s) - t0 )) s)"
done
"$A" acks --ledger asr.git --witness a.key.pub --witness b.key.pub --witness s.key.pub --json > acks.json
notices=$(grep -c '"type":"notice"' acks.json)
acked=$(grep '"type":"notice"' acks.json | grep -c '"pending":\[\]')
echo "$rounds rounds in $(( $(date +%s) - t0 )) s; $forks split views shown, $caught caught; $acked of $notices notices acknowledged by all 3 witnesses"
[ "$forks" = "$caught" ] && [ "$acked" = "$notices" ]
