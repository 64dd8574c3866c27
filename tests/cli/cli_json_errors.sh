#!/usr/bin/env bash
# tests/cli/cli_json_errors.sh - every command that takes --json prints JSON on standard output
# when it fails, too: run each one against a missing ledger, a missing input file or a directory
# that is not a bundle, and parse what it printed: exactly one object
# {"ok":false,"exit":N,"error":"..."} whose exit is the command's exit status (docs/JSON.md).
source "$(dirname "$0")/lib.sh"
export AUDITFS_STATE=$WORK/state
A=$AUDITFS
"$A" keygen json.example/errors -o k >/dev/null 2>&1
"$A" init --ledger L --key k >/dev/null 2>&1
echo "doc" >doc.md
echo "not a bundle" >plainfile
mkdir -p emptydir
N=$WORK/no-such-ledger
T0=2000-01-01
T1=2100-01-01

# one JSON object on stdout, exit = the status, a message; the diagnostic still on stderr
json_fails() { # DESCRIPTION CMD...
    local what=$1
    shift
    "$@" >"$WORK/j.out" 2>"$WORK/j.err" </dev/null
    local rc=$?
    if [ "$rc" -eq 0 ]; then
        not_ok "$what: succeeded (exit 0)"
        return
    fi
    if jq -e -s --argjson rc "$rc" 'length == 1 and (.[0] | .ok == false and .exit == $rc and
            (.error | type == "string" and length > 0))' "$WORK/j.out" >/dev/null 2>&1; then
        ok "$what: exit $rc and one JSON error object ($(jq -r .error "$WORK/j.out" | head -c 80))"
    else
        not_ok "$what: exit $rc, stdout is not one JSON error object: $(head -c 300 "$WORK/j.out")"
    fi
    # a bundle's failed checks are its report (on stdout); every other failure is diagnosed
    [ -n "${QUIET_ERR:-}" ] || { [ -s "$WORK/j.err" ] && ok "  the diagnostic is still on stderr" || not_ok "  stderr is empty"; }
}

json_fails "append, missing ledger" "$A" append --ledger "$N" --key k --stream s --json
json_fails "append, missing key file" "$A" append --ledger L --key nokey --stream s --json
json_fails "publish, missing ledger" "$A" publish --ledger "$N" --key k --name d --json doc.md
json_fails "publish, missing input file" "$A" publish --ledger L --key k --name d --json nofile.md
json_fails "notice, missing ledger" "$A" notice --ledger "$N" --key k --title t --json doc.md
json_fails "notice, missing input file" "$A" notice --ledger L --key k --title t --json nofile.md
json_fails "checkpoint, missing ledger" "$A" checkpoint --ledger "$N" --json
json_fails "verify, missing ledger" "$A" verify --ledger "$N" --key k.pub --json
json_fails "verify, missing key file" "$A" verify --ledger L --key nokey.pub --json
jq -e '.error | test("nokey.pub")' "$WORK/j.out" >/dev/null && ok "  the error names the missing key file" || not_ok "  $(cat "$WORK/j.out")"
json_fails "log, missing ledger" "$A" log --ledger "$N" --json
json_fails "query, missing ledger" "$A" query --ledger "$N" --json 'actor=x'
json_fails "index, missing ledger" "$A" index --ledger "$N" --json
json_fails "incident, missing ledger" "$A" incident --since $T0 --until $T1 --ledger "$N" --key k.pub -o "$WORK/B" --json
json_fails "incident --check, missing bundle" "$A" incident --check "$WORK/nobundle" --ledger L --key k.pub --json
json_fails "incident --check, an empty directory" "$A" incident --check emptydir --ledger L --key k.pub --json
json_fails "verify-bundle, missing directory" "$A" verify-bundle "$WORK/nobundle" --key k.pub --json
json_fails "verify-bundle, a file, not a directory" "$A" verify-bundle plainfile --key k.pub --json
jq -e '.exit == 3 and (.error | test("not a directory"))' "$WORK/j.out" >/dev/null && ok "  exit 3 and it says why" || not_ok "  $(cat "$WORK/j.out")"
QUIET_ERR=1 json_fails "verify-bundle, an empty directory (its checks fail)" "$A" verify-bundle emptydir --key k.pub --json
json_fails "verify-bundle, no DIR (usage)" "$A" verify-bundle --key k.pub --json
json_fails "archive, missing ledger" "$A" archive --ledger "$N" -o "$WORK/a.bundle" --json
json_fails "status, missing ledger" "$A" status --ledger "$N" --json
json_fails "export, missing ledger" "$A" export --ledger "$N" --tlog-tiles "$WORK/tiles" --json
json_fails "acks, missing ledger" "$A" acks --ledger "$N" --witness k.pub --json
json_fails "acks, missing witness key" "$A" acks --ledger L --witness nokey.pub --json
json_fails "a misspelt option" "$A" status --ledger L --jsn --json
# a command that reports its own failure in JSON keeps its object (no second one)
"$A" verify --ledger "$N" --key k.pub --json >"$WORK/v.out" 2>/dev/null
[ "$(wc -l <"$WORK/v.out")" = 1 ] && ok "verify's own failure object is not doubled" || not_ok "verify printed: $(cat "$WORK/v.out")"
# success is untouched: one status object, exit 0
"$A" status --ledger L --json >"$WORK/s.out" 2>&1 && jq -e '.tree_size == 0' "$WORK/s.out" >/dev/null &&
    ok "a successful --json command prints only its own object" || not_ok "status --json: $(cat "$WORK/s.out")"
# without --json, nothing is added to stdout
"$A" status --ledger "$N" >"$WORK/t.out" 2>/dev/null
[ ! -s "$WORK/t.out" ] && ok "without --json a failure prints nothing on stdout" || not_ok "stdout: $(cat "$WORK/t.out")"
finish
