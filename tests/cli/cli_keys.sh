#!/usr/bin/env bash
# Signer key files: mode 0600 (or stricter) only, regular files only. Every group or other
# permission bit is refused with exit 5 and a message naming the mode; a FIFO, a directory or a
# device is refused without blocking (tests/mutation/ mutants key-file-mode, key-file-regular).
source "$(dirname "$0")/lib.sh"
export AUDITFS_STATE=$WORK/state
A=$AUDITFS
$A keygen keys.example -o key >/dev/null
$A init --ledger L --key key 2>/dev/null
echo '{"a":1}' >r
for mode in 640 620 610 604 602 601 660 644; do
    cp key k$mode && chmod $mode k$mode
    expect_exit 5 "a signer key of mode 0$mode is refused" $A append --ledger L --key k$mode --stream s r
    expect_err "mode 0$mode" "the refusal names mode 0$mode"
done
for mode in 600 400; do
    cp key k$mode && chmod $mode k$mode
    check "a signer key of mode 0$mode is accepted" $A append --ledger L --key k$mode --stream s --no-index r
done
mkfifo fifo && chmod 600 fifo
expect_exit 5 "a FIFO as the signer key is refused (without blocking)" timeout 10 $A append --ledger L --key fifo --stream s r
expect_err "not a regular file" "the refusal says it is not a regular file"
mkdir kdir && chmod 700 kdir
expect_exit 5 "a directory as the signer key is refused" $A append --ledger L --key kdir --stream s r
expect_err "not a regular file" "the refusal says it is not a regular file"
expect_exit 5 "a character device as the signer key is refused" $A append --ledger L --key /dev/null --stream s r
finish
