#!/usr/bin/env bash
# append --follow: the three ways rotation could still lose lines (issue 10), each made on
# purpose with a test hook (no sleeps-and-hope), with one ledger (positions in commit trailers)
# and with --route-by tenant (the low-water mark in DIR/.auditfs-route/):
#  1. NAME rotated twice between two checks: the file in between is read, old history is not;
#  2. copytruncate whose copy logrotate compressed (.gz, .zst) is read from the copy; with no
#     copy anywhere, the loss is reported and recorded in the stream auditfs-input;
#  3. the first file rotated away before any position was stored, then kill -9: the start
#     marker lets the restart find it.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
$A keygen rotate.example -o key >/dev/null
# lines TAG FROM TO: JSON lines alternating between tenants t0 and t1
lines() { for i in $(seq $2 $3); do printf '{"t":"t%d","i":"%s-%d"}\n' $((i % 2)) $1 $i; done; }
R() { AUDITFS_STATE=$AUDITFS_STATE-reader $A "$@" --key $WORK/key.pub; }
setup() { # MODE CASE: a fresh ledger (or ledgers directory) and input directory
    MODE=$1
    export AUDITFS_STATE=$WORK/state-$1-$2
    L=$WORK/l-$1-$2 D=$WORK/r-$1-$2
    [ $MODE = plain ] && $A init --ledger $L --key key 2>/dev/null
    rm -rf in hold && mkdir in
}
fol() { # the follower on in/a.log, --once; extra options first (exec: $! of `fol &` is its pid)
    if [ $MODE = plain ]; then
        exec $A append --ledger $L --key key --stream app --follow --once --poll-ms 20 --no-index "$@" $WORK/in/a.log
    else
        exec $A append --key key --stream app --map tenant=t --route-by tenant --ledgers $D --follow --once \
            --poll-ms 20 --no-index "$@" $WORK/in/a.log
    fi
}
# the stored app lines as "tenant id", each tenant's in the order stored
got() {
    if [ $MODE = plain ]; then
        R log --ledger $L --json | jq -r 'select(.stream=="app") | .payload | "\(.t) \(.i)"' | sort -s -k1,1
    else
        for t in t0 t1; do [ -d $D/$t ] && R log --ledger $D/$t --json | jq -r '.payload | "\(.t) \(.i)"'; done
    fi
}
want() { jq -r '"\(.t) \(.i)"' | sort -s -k1,1; }
gaps() { # the payloads of the stream auditfs-input
    if [ $MODE = plain ]; then
        R log --ledger $L --json | jq -c 'select(.stream=="auditfs-input") | .payload'
    elif [ -d $D/quarantine ]; then
        R log --ledger $D/quarantine --json 2>/dev/null | jq -c 'select(.stream=="auditfs-input") | .payload'
    fi
}
size() { if [ $MODE = plain ]; then R checkpoint --ledger $L 2>/dev/null | sed -n 2p; else ls $D 2>/dev/null | grep -c '^t'; fi; }
wait_hold() { for _ in $(seq 1 300); do [ -e hold ] && return 0; sleep 0.1; done; return 1; }
compare() { # DESCRIPTION: got() against the expected lines on stdin
    want > want.txt
    got > got.txt 2>/dev/null
    if cmp -s got.txt want.txt; then ok "$1"
    else not_ok "$1: $(comm -13 <(sort got.txt) <(sort want.txt) | wc -l) missing ($(comm -13 <(sort got.txt) <(sort want.txt) | head -3 | tr '\n' ' ')), $(comm -23 <(sort got.txt) <(sort want.txt) | wc -l) extra ($(comm -23 <(sort got.txt) <(sort want.txt) | head -3 | tr '\n' ' '))"; fi
}

for MODE in plain route; do
    # ---- 1. rotated twice between two checks (logrotate: rename NAME.1->NAME.2, NAME->NAME.1,
    # create NAME); then the same with compress + delaycompress (NAME.1 is compressed into
    # NAME.2.gz as it moves, keeping its modification time, as logrotate does)
    for c in plain delaycompress; do
        setup $MODE twice-$c
        lines old 0 49 > in/a.log.1
        touch -d '-1 hour' in/a.log.1 # old history: before the follower started, never to be read
        lines x 0 99 > in/a.log
        ( AUDITFS_TEST_HOLD_CHECK=$WORK/hold fol ) > /dev/null 2> twice.err & fp=$!
        wait_hold && ok "$MODE $c: the follower holds after a check that found a.log still its file" || not_ok "$MODE $c: no hold: $(cat twice.err)"
        lines x 100 149 >> in/a.log
        if [ $c = plain ]; then
            mv in/a.log.1 in/a.log.2; mv in/a.log in/a.log.1; lines y 0 99 > in/a.log
            mv in/a.log.2 in/a.log.3; mv in/a.log.1 in/a.log.2; mv in/a.log in/a.log.1; lines z 0 99 > in/a.log
        else
            gz() { gzip -c in/$1 > in/$2 && touch -r in/$1 in/$2 && rm in/$1; }
            gz a.log.1 a.log.2.gz; mv in/a.log in/a.log.1; lines y 0 99 > in/a.log
            mv in/a.log.2.gz in/a.log.3.gz; gz a.log.1 a.log.2.gz; mv in/a.log in/a.log.1; lines z 0 99 > in/a.log
        fi
        rm -f hold
        wait $fp && ok "$MODE $c: the follower ran to its end" || not_ok "$MODE $c: exit $?: $(cat twice.err)"
        compare "$MODE $c: rotated twice between two checks: the old file, the one in between, the new one, each line once and in order" < <({ lines x 0 149; lines y 0 99; lines z 0 99; })
        grep -q ' old-' got.txt && not_ok "$MODE $c: old history (a.log.3) was read" || ok "$MODE $c: old history (a.log.3, written before the check) is not read"
        grep -q "rotated more than once between two checks" twice.err && ok "$MODE $c: it says so" || not_ok "$MODE $c: no notice: $(cat twice.err)"
    done

    # ---- 2. copytruncate, the copy compressed by logrotate (compress without delaycompress)
    for z in gzip zstd; do
        setup $MODE ct-$z
        lines x 0 99 > in/a.log
        ( AUDITFS_TEST_HOLD_CHECK=$WORK/hold fol ) > /dev/null 2> ct.err & fp=$!
        wait_hold || not_ok "$MODE $z: no hold: $(cat ct.err)"
        lines x 100 149 >> in/a.log
        cp in/a.log in/a.log.1 && : > in/a.log && $z -q in/a.log.1 && rm -f in/a.log.1
        lines n 0 29 >> in/a.log
        rm -f hold
        wait $fp || not_ok "$MODE $z: exit $?: $(cat ct.err)"
        ls in/a.log.1.* > /dev/null || not_ok "$MODE $z: no compressed copy"
        compare "$MODE: copytruncate with a $z-compressed copy: the unread lines are read from the copy, once" < <({ lines x 0 149; lines n 0 29; })
        [ -z "$(gaps)" ] && ok "$MODE $z: no gap recorded" || not_ok "$MODE $z: a gap recorded: $(gaps)"
    done
    # ---- 2b. copytruncate and no copy anywhere: the loss is reported and recorded
    setup $MODE ct-none
    lines x 0 99 > in/a.log
    from=$(stat -c %s in/a.log)
    ( AUDITFS_TEST_HOLD_CHECK=$WORK/hold fol ) > /dev/null 2> none.err & fp=$!
    wait_hold || not_ok "$MODE none: no hold: $(cat none.err)"
    lines x 100 149 >> in/a.log
    : > in/a.log
    lines n 0 29 >> in/a.log
    rm -f hold
    wait $fp || not_ok "$MODE none: exit $?: $(cat none.err)"
    compare "$MODE: truncated without a copy: the lines before and after are stored" < <({ lines x 0 99; lines n 0 29; })
    g=$(gaps)
    [ -n "$g" ] && echo "$g" | jq -e --argjson from $from --arg f "$WORK/in/a.log" \
        'select(.event=="input-gap" and .file==$f and .from==$from and .to==null and (.inode|type)=="number")' > /dev/null \
        && ok "$MODE: the loss is an entry of the stream auditfs-input: $g" || not_ok "$MODE: no gap entry (from $from): '$g'"
    [ "$(echo "$g" | grep -c input-gap)" = 1 ] && ok "$MODE: recorded once" || not_ok "$MODE: $(echo "$g" | grep -c input-gap) gap entries"
    [ "$(grep -c "are lost" none.err)" = 1 ] && grep -q "a.log: truncated (copytruncate) and no copy found beside it: bytes $from to its end of that file (inode [0-9]*) are lost; recorded in the stream auditfs-input" none.err \
        && ok "$MODE: one line names the file and the bytes lost" || not_ok "$MODE: message: $(cat none.err)"

    # ---- 3. the first file rotated away before any position was stored, then kill -9
    setup $MODE first
    lines x 0 99 > in/a.log
    ( AUDITFS_TEST_HOLD_READ=$WORK/hold fol --flush-ms 600000 ) > /dev/null 2> first.err & fp=$!
    wait_hold && ok "$MODE: the first run read lines and holds before committing" || not_ok "$MODE: no hold: $(cat first.err)"
    if [ $MODE = plain ]; then mk=$L/auditfs-follow; else mk=$D/.auditfs-route; fi
    [ "$(size)" = 0 ] && ok "$MODE: nothing committed yet" || not_ok "$MODE: already committed: $(size)"
    grep -q "^Auditfs-Start: $WORK/in/a.log [0-9]*:[0-9]* [0-9]*:[0-9a-f]\{64\} 0$" $mk/start-* 2>/dev/null \
        && ok "$MODE: the start marker is durable before the lines are committed" || not_ok "$MODE: no marker: $(ls -a $mk 2>&1)"
    mv in/a.log in/a.log.1; lines y 0 49 > in/a.log
    kill -9 $fp; wait $fp 2>/dev/null
    rm -f hold
    ( fol ) > /dev/null 2> first2.err && ok "$MODE: the restart ran" || not_ok "$MODE: restart exit $?: $(cat first2.err)"
    compare "$MODE: kill -9 before the first commit, the file rotated: the restart reads it from the marker, then the new one" < <({ lines x 0 99; lines y 0 49; })
    ls $mk/start-* > /dev/null 2>&1 && not_ok "$MODE: the marker stays after a position was stored" || ok "$MODE: the marker is removed once a position is stored"
    lines y 50 59 >> in/a.log
    ( fol ) > /dev/null 2>> first2.err
    compare "$MODE: and the next restart goes on from the stored position" < <({ lines x 0 99; lines y 0 59; })

    # ---- 4. the same with logrotate itself (a tool we did not write), compress without
    # delaycompress: rotated twice with `create` (the file in between is read from
    # a.log.1.gz), and copytruncate (the unread lines from the compressed copy)
    if command -v logrotate > /dev/null; then
        for how in create copytruncate; do
            setup $MODE lr-$how
            printf '%s {\n    rotate 5\n    compress\n    %s\n    missingok\n}\n' "$WORK/in/a.log" $how > lr.conf
            lr() { logrotate -f -s $WORK/lr.state $WORK/lr.conf; }
            lines x 0 99 > in/a.log
            ( AUDITFS_TEST_HOLD_CHECK=$WORK/hold fol ) > /dev/null 2> lr.err & fp=$!
            wait_hold || not_ok "$MODE logrotate $how: no hold: $(cat lr.err)"
            lines x 100 149 >> in/a.log
            if [ $how = create ]; then
                lr; lines y 0 99 >> in/a.log; lr; lines z 0 99 >> in/a.log
            else
                lr; lines z 0 99 >> in/a.log
            fi
            rm -f hold
            wait $fp || not_ok "$MODE logrotate $how: exit $?: $(cat lr.err)"
            compare "$MODE: logrotate $how + compress: every line once, in order ($(cd in && echo *))" < <({ lines x 0 149; [ $how = create ] && lines y 0 99; lines z 0 99; })
            [ -z "$(gaps)" ] || not_ok "$MODE logrotate $how: a gap recorded: $(gaps)"
        done
    else
        echo "# logrotate not installed: its section is skipped"
    fi
done
finish
