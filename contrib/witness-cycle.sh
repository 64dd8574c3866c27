#!/usr/bin/env bash
# The whole witness cycle, for as long as you like: a provider, two customers and an assessor,
# each with its own copy and its own state directory, on 127.0.0.1.
#
#   provider:   append (a notice every 5th round) -> auditfs push to a git daemon
#   customers:  auditfs sync their replica -> auditfs cosign it -> mail the cosigned
#               checkpoint to the provider, who stores it with `auditfs cosignatures add`
#   assessor:   a C2SP tlog-witness HTTP server (`auditfs witness serve`) the provider asks
#               with `auditfs witness request`; it also keeps a mirror and verifies it with a
#               quorum of all three witnesses and --max-age
#
# Every 10th round the provider shows customer B a split view: B's remote serves a fork of
# the same size (validly signed by the provider), B syncs and cosigns it, the real ledger
# grows to that size too. The round must end with the split view caught: the provider
# refuses B's receipt (it is not the ledger's checkpoint), B's next sync of the real ledger
# is refused as a fork (exit 8) with both signed checkpoints in B's evidence directory, and
# the assessor's quorum of 3 fails until B's operator re-clones. At the end every notice must
# be acknowledged by all three witnesses (`auditfs acks`) and the incident report must name
# each acknowledgment.
#
# usage: contrib/witness-cycle.sh [--duration SECONDS | --rounds N] [--interval SECONDS]
#                                 [--auditfs BINARY] [--keep DIR]
# Prints one line per round and a summary; exits 1 at the first unexpected result.
set -u
duration=0 rounds=30 interval=0 A=build/cli/auditfs keep=
while [ $# -gt 0 ]; do
    case $1 in
    --duration) duration=$2 rounds=0; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    --auditfs) A=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    *) echo "usage: $0 [--duration S | --rounds N] [--interval S] [--auditfs BIN] [--keep DIR]" >&2; exit 2 ;;
    esac
done
A=$(realpath "$A")
command -v git >/dev/null || { echo "git is required" >&2; exit 2; }
W=$(mktemp -d "${TMPDIR:-/tmp}/auditfs-cycle.XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    if [ -n "$keep" ]; then rm -rf "$keep"; mv "$W" "$keep"; else rm -rf "$W"; fi
}
trap cleanup EXIT
cd "$W" || exit 1
r=0
die() { echo "FAIL round $r: $*" >&2; exit 1; }
# each party runs auditfs with its own state directory
as() { local who=$1; shift; AUDITFS_STATE=$W/state-$who "$A" "$@"; }

# --- keys, the provider's ledger and the git server ---------------------------------------
"$A" keygen provider.example/acme -o p.key >/dev/null
for k in a b s; do "$A" keygen "$k.example" -o $k.key >/dev/null; done
as P init --ledger P --key p.key >/dev/null 2>&1 || die "init"
mkdir srv && git init -q --bare srv/acme.git && git init -q --bare srv/fork.git
port=
for _ in $(seq 20); do
    p=$((20000 + RANDOM % 20000))
    git daemon --reuseaddr --base-path="$W/srv" --export-all --enable=receive-pack \
        --listen=127.0.0.1 --port=$p "$W/srv" 2>daemon.log &
    pid=$!
    for _ in $(seq 50); do
        (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && { port=$p; break; }
        kill -0 $pid 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$port" ] && { PIDS+=($pid); break; }
    kill $pid 2>/dev/null; wait $pid 2>/dev/null
done
[ -n "$port" ] || die "no git daemon"
URL=git://127.0.0.1:$port/acme.git FORK=git://127.0.0.1:$port/fork.git
push_provider() { # main with auditfs push (fast-forward only), then the cosignatures side ref
    as P push "$URL" --ledger P >/dev/null 2>push.err || die "push: $(cat push.err)"
    if git -C P rev-parse -q --verify refs/auditfs/cosignatures >/dev/null; then
        git -C P push -q "$URL" refs/auditfs/cosignatures:refs/auditfs/cosignatures 2>push.err ||
            die "push cosignatures: $(cat push.err)"
    fi
}
echo '{"boot":1}' | as P append --ledger P --key p.key --stream api >/dev/null || die "append"
push_provider

# the assessor's witness server
AUDITFS_STATE=$W/state-S "$A" witness serve --key s.key --listen 127.0.0.1:0 --rate 100000 \
    --log provider.example/acme=p.key.pub >S.out 2>S.log &
PIDS+=($!)
for _ in $(seq 100); do grep -q '^listening' S.out 2>/dev/null && break; sleep 0.1; done
URL_S=http://$(sed -n 's/^listening on //p' S.out)
[ "$URL_S" != http:// ] || die "witness server did not start: $(cat S.log)"

clone_party() { # WHO: a fresh replica and state (a new party, or an operator's restore)
    rm -rf "$1" "$W/state-$1"
    as "$1" clone "$URL" "$1" --key p.key.pub >/dev/null 2>"$1.err" || die "clone $1: $(cat "$1.err")"
}
for c in A B; do clone_party $c; done
git clone -q --mirror "$URL" S.git || die "assessor mirror"
as S trust add p.key.pub >/dev/null 2>&1 || die "assessor pins the key"

customer_round() { # WHO KEY: sync, cosign, mail the receipt to the provider
    local who=$1 key=$2
    as "$who" sync --ledger "$who" >/dev/null 2>"$who.err" || return 10
    as "$who" cosign --ledger "$who" --key "$key" --log-key p.key.pub >/dev/null 2>"$who.err" || return 11
    as "$who" checkpoint --ledger "$who" >"$who.receipt" 2>"$who.err" || return 12
    return 0
}
size_of() { git -C "$1" show main:checkpoint | sed -n 2p; }

t0=$(date +%s) forks=0 caught=0 notices=0
while :; do
    r=$((r + 1))
    if [ "$rounds" -gt 0 ]; then [ "$r" -le "$rounds" ] || break
    else [ $(($(date +%s) - t0)) -lt "$duration" ] || break; fi
    awk -v r="$r" 'BEGIN { for (i = 0; i < 50; i++) printf "{\"round\":%d,\"i\":%d}\n", r, i }' |
        as P append --ledger P --key p.key --stream api >/dev/null || die "append"
    if [ $((r % 5)) = 0 ]; then
        echo "Maintenance window $r" > n.md
        as P notice --ledger P --key p.key --title "Notice $r" n.md >/dev/null || die "notice"
        notices=$((notices + 1))
    fi
    if [ $((r % 10)) = 0 ]; then
        # split view: B is served a fork of the next size; everyone else the real ledger
        rm -rf F.git "$W/state-F" && git clone -q --mirror P F.git
        echo '{"evil":1}' | AUDITFS_STATE=$W/state-F "$A" append --ledger F.git --key p.key \
            --stream api >/dev/null 2>&1 || die "fork append"
        git -C F.git push -q --force "$FORK" refs/heads/main:refs/heads/main || die "fork push"
        echo '{"real":1}' | as P append --ledger P --key p.key --stream api >/dev/null || die "append"
        push_provider
        as B sync --ledger B --remote "$FORK" >/dev/null 2>B.err || die "B sync fork: $(cat B.err)"
        as B cosign --ledger B --key b.key --log-key p.key.pub >/dev/null 2>B.err || die "B cosign fork"
        as B checkpoint --ledger B >B.receipt
        [ "$(size_of B)" = "$(size_of P)" ] || die "the fork is not the same size"
        forks=$((forks + 1))
        # caught three ways: the provider cannot store B's receipt, B's sync of the real
        # ledger is a fork with evidence, the assessor's quorum of 3 is not met
        as P cosignatures add --ledger P --witness b.key.pub B.receipt >/dev/null 2>&1 &&
            die "the provider stored a receipt for a checkpoint it did not commit"
        n0=$(find "$W/state-B" -path '*evidence*' -type f | wc -l)
        as B sync --ledger B --remote "$URL" >/dev/null 2>B.err
        rc=$?
        n1=$(find "$W/state-B" -path '*evidence*' -type f | wc -l)
        [ "$rc" = 8 ] && [ "$n1" -gt "$n0" ] || die "B's sync of the real ledger: exit $rc, evidence $n0 -> $n1"
        customer_round A a.key || die "customer A: $(cat A.err)"
        as P cosignatures add --ledger P --witness a.key.pub A.receipt >/dev/null 2>P.err ||
            die "store A's receipt: $(cat P.err)"
        as P witness request --ledger P --witness "$URL_S=s.key.pub" >/dev/null 2>P.err ||
            die "assessor witness: $(cat P.err)"
        push_provider
        git -C S.git fetch -q --prune origin '+refs/*:refs/*' || die "mirror fetch"
        as S verify --ledger S.git --key p.key.pub --witness a.key.pub --witness b.key.pub \
            --witness s.key.pub --quorum 3 >/dev/null 2>&1 && die "quorum 3 passed while B saw a fork"
        caught=$((caught + 1))
        clone_party B # B's operator keeps the evidence, starts over from the real ledger
    else
        push_provider
    fi
    for c in A B; do
        k=$(echo $c | tr AB ab).key
        customer_round $c "$k" || die "customer $c ($?): $(cat $c.err)"
        as P cosignatures add --ledger P --witness "$k.pub" $c.receipt >/dev/null 2>P.err ||
            die "store $c's receipt: $(cat P.err)"
    done
    as P witness request --ledger P --witness "$URL_S=s.key.pub" >/dev/null 2>P.err ||
        die "assessor witness: $(cat P.err)"
    push_provider
    git -C S.git fetch -q --prune origin '+refs/*:refs/*' || die "mirror fetch"
    as S verify --ledger S.git --key p.key.pub --witness a.key.pub --witness b.key.pub \
        --witness s.key.pub --quorum 3 --max-age 1h >/dev/null 2>S.err || die "quorum 3: $(cat S.err)"
    echo "round $r: size $(size_of P), cosigned by A, B and S, quorum 3 verified by the assessor ($(($(date +%s) - t0)) s)"
    [ "$interval" = 0 ] || sleep "$interval"
done

# --- receipts: every notice acknowledged by all three, and the incident report says so -----
as S acks --ledger S.git --key p.key.pub --witness a.key.pub --witness b.key.pub \
    --witness s.key.pub --json >acks.json 2>acks.err || die "acks: $(cat acks.err)"
seen=$(grep -c '"type":"notice"' acks.json)
acked=$(grep '"type":"notice"' acks.json | grep -c '"pending":\[\]')
[ "$seen" = "$notices" ] || die "acks lists $seen notices, $notices were published"
[ "$acked" = "$notices" ] || die "$acked of $notices notices acknowledged by all three"
as S incident --ledger S.git --key p.key.pub --witness a.key.pub --witness b.key.pub \
    --witness s.key.pub --since 2000-01-01T00:00:00Z --until 2100-01-01T00:00:00Z \
    -o bundle >/dev/null 2>inc.err || die "incident: $(cat inc.err)"
as S verify-bundle bundle --key p.key.pub --witness a.key.pub --witness b.key.pub \
    --witness s.key.pub >/dev/null 2>vb.err || die "verify-bundle: $(cat vb.err)"
# the report names, per notice, each witness's acknowledgment (3 lines per notice)
nack=$(cat bundle/report.md bundle/receipts.md 2>/dev/null | grep -Ec '^ *[abs]\.example +acknowledged ')
[ "$nack" -ge $((3 * notices)) ] || die "the bundle names $nack acknowledgments, expected $((3 * notices))"
echo "$((r - 1)) rounds in $(($(date +%s) - t0)) s; final size $(size_of P);" \
    "$forks split views shown, $caught caught; $acked of $notices notices acknowledged by A, B and S"
[ "$forks" = "$caught" ]
