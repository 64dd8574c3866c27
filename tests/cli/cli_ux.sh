#!/usr/bin/env bash
# tests/cli/cli_ux.sh - the command line as a user meets it: help CMD, -V, did-you-mean, one
# exit code per kind of mistake across commands, key mix-ups named, examples in every --help,
# and --json on every reporting command (each output parsed by jq against docs/JSON.md).
source "$(dirname "$0")/lib.sh"
export AUDITFS_STATE=$WORK/state
unset AUDITFS_LEDGER
A=$AUDITFS

"$A" keygen example.com/ux -o k >/dev/null 2>&1
"$A" init --ledger L --key k >/dev/null 2>&1
records 20 | "$A" append --ledger L --key k --stream api >/dev/null 2>&1

# help
"$A" help verify >"$WORK/h1"; "$A" verify --help >"$WORK/h2"
check "auditfs help verify == auditfs verify --help" cmp "$WORK/h1" "$WORK/h2"
check "auditfs -V prints the version" sh -c "'$A' -V | grep -Eq '^auditfs [0-9]+\.[0-9]+\.[0-9]+$'"
check "auditfs --version too" sh -c "'$A' --version | grep -q '^auditfs '"
for c in $("$A" --list-commands); do
    "$A" "$c" --help >"$WORK/.out" 2>&1
    expect_out '^Examples?:' "'$c --help' has examples"
done
expect_exit 2 "help for an unknown command is a usage error" "$A" help verfy
expect_err "did you mean 'verify'" "help verfy suggests verify"

# did you mean
expect_exit 2 "a mistyped command exits 2" "$A" verfy --ledger L
expect_err "did you mean 'verify'\?" "a mistyped command gets a suggestion"
expect_exit 2 "another typo" "$A" chekpoint
expect_err "did you mean 'checkpoint'" "chekpoint -> checkpoint"
expect_exit 2 "no suggestion for nonsense" "$A" zzzzzzzz
if grep -q "did you mean" "$WORK/.err"; then not_ok "nonsense got a suggestion"; else ok "nonsense gets none"; fi
expect_exit 2 "a mistyped option exits 2" "$A" verify --ledger L --key k.pub --jsno
expect_err "did you mean '--json'" "a mistyped option gets a suggestion"
expect_exit 2 "mistyped option of a command in another file" "$A" query --ledger L --limt 3
expect_err "did you mean '--limit'" "query --limt -> --limit"

# one exit code per kind of mistake: a missing input file is 7 everywhere
expect_exit 7 "append: missing input file" "$A" append --ledger L --key k --stream s nofile
expect_exit 7 "publish: missing input file" "$A" publish --ledger L --key k --name a/b nofile
expect_exit 7 "notice: missing input file" "$A" notice --ledger L --key k --title t nofile
expect_exit 7 "verify: missing key file" "$A" verify --ledger L --key nokey.pub
expect_exit 7 "verify: missing --trusted file" "$A" verify --ledger L --key k.pub --trusted nofile
expect_exit 7 "append: missing key file" "$A" append --ledger L --key nokey --stream s
expect_exit 7 "verify-bundle: missing bundle" "$A" verify-bundle nodir --key k.pub
expect_exit 7 "checkpoint: missing ledger" "$A" checkpoint --ledger nol
expect_exit 7 "query: missing ledger" "$A" query --ledger nol a=b
# key mix-ups: 5, with a message that says what happened
expect_exit 5 "verify with the signer key" "$A" verify --ledger L --key k
expect_err "signer \(private\) key, not a verifier key" "  ... says it is a signer key"
expect_exit 5 "append with the verifier key" "$A" append --ledger L --key k.pub --stream s
expect_err "verifier \(public\) key, not a signer key" "  ... says it is a verifier key"
cp k.pub k2.pub; chmod 600 k2.pub
expect_exit 5 "append with a 0600 verifier key" "$A" append --ledger L --key k2.pub --stream s
expect_err "verifier \(public\) key, not a signer key" "  ... says it is a verifier key"
"$A" keygen example.com/other -o o >/dev/null 2>&1
# a verifier who has pinned nothing yet (its own state): the key given is tried, and fails
AUDITFS_STATE=$WORK/state-fresh expect_exit 1 "verify with another ledger's key fails verification" "$A" verify --ledger L --key o.pub
expect_err "o.pub is not the key of this ledger.*wrong key or wrong ledger" "  ... and says the key is not the ledger's"
expect_exit 2 "usage: no ledger" "$A" checkpoint

# --json everywhere a command reports (jq parses it and the fields are there)
jqt() { # DESCRIPTION JQ-EXPR COMMAND...: the command's stdout, every line, satisfies the expr
    local d=$1 e=$2; shift 2
    if "$@" >"$WORK/.out" 2>"$WORK/.err" && [ -s "$WORK/.out" ] &&
        jq -e "$e" "$WORK/.out" >/dev/null 2>&1 &&
        ! jq -e "($e) | not" "$WORK/.out" 2>/dev/null | grep -q true; then
        ok "$d"
    else
        not_ok "$d: $(head -c 300 "$WORK/.out") $(head -c 200 "$WORK/.err")"
    fi
}
records 5 | jqt "append --json acknowledges in JSON lines" '.tree_size >= 21 and .entries >= 1' \
    "$A" append --ledger L --key k --stream api --json
echo "# SLA" >sla.md
jqt "publish --json" '.type == "document" and .name == "sla/x" and .version == 1 and .seq == 25' \
    "$A" publish --ledger L --key k --name sla/x --json sla.md
jqt "notice --json" '.type == "notice" and .title == "T" and .tree_size == 27' \
    "$A" notice --ledger L --key k --title T --json sla.md
jqt "checkpoint --json" '.tree_size == 27 and .origin == "example.com/ux" and (.note | startswith("example.com/ux\n27\n"))' \
    "$A" checkpoint --ledger L --json
jqt "checkpoint --size --json" '.tree_size == 20' "$A" checkpoint --ledger L --size 20 --json
jqt "verify --json" '.ok == true and .tree_size == 27' "$A" verify --ledger L --key k.pub --json
jqt "index --json" '.present == true and .entries == 27 and .problem == null' "$A" index --ledger L --json
jqt "archive --json" '.file == "a.bundle" and .checkpoint.tree_size == 27 and .objects > 0' \
    "$A" archive --ledger L -o a.bundle --json
jqt "incident --json" '.bundle == "B" and .ledgers[0].checkpoint.tree_size == 27' \
    "$A" incident --since 2000-01-01 --until 2100-01-01 --ledger L --key k.pub -o B --json
jqt "verify-bundle --json" '.ok == true and (.checks | map(.status) | index("verified")) != null' \
    "$A" verify-bundle B --key k.pub --json
jqt "incident --check --json" '.ok == true and (.checks | length) >= 1' \
    "$A" incident --check B --ledger L --json
echo tampered >>B/report.md
"$A" verify-bundle B --key k.pub --json >"$WORK/vb.json" 2>/dev/null
rc=$?
if [ $rc -eq 1 ] && jq -e '.ok == false and .exit == 1 and (.checks | map(.status) | index("fail")) != null' "$WORK/vb.json" >/dev/null; then
    ok "verify-bundle --json on a damaged bundle: ok false, exit 1, a fail check"
else
    not_ok "verify-bundle --json on a damaged bundle (exit $rc): $(head -c 300 "$WORK/vb.json")"
fi
finish
