#!/usr/bin/env bash
# The writers' durability order, observed with strace: for every acknowledgment append (and
# publish) prints, the system calls since the previous one must be, in this order:
#   the batch's object files written and renamed into objects/
#   syncfs(objects/), or fsync of what was    every object is on disk ...
#   written under objects/ (a pack, its directory) after the last object write or rename
#   rename(refs/heads/main.lock -> main)      ... before the ref moves,
#   fsync(refs/heads/main), fsync(refs/heads) the moved ref and its directory are on disk ...
#   write(1, ack)                             ... before the acknowledgment is printed.
# kill -9 tests cannot see a missing fsync (the page cache survives a killed process), so this
# is the test that fails when one is dropped or moved (tests/mutation/ mutants append-*).
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
export AUDITFS_STATE=$WORK/state
A=$AUDITFS
# LeakSanitizer cannot run under ptrace: the traced runs of an ASan build check order, not leaks
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
if ! command -v strace >/dev/null 2>&1 || ! strace -f -qq -o /dev/null true 2>/dev/null; then
    echo "# SKIP: strace is missing or cannot trace here (apt-get install strace)"
    exit 77
fi
SYSCALLS=fsync,fdatasync,syncfs,sync,rename,renameat,renameat2,write,pwrite64,link,linkat,unlink,unlinkat

# order TRACE WHAT [REF]: checks the order above (for REF, default refs/heads/main) for every
# write to stdout in TRACE; prints the number of acknowledgments checked, or the first violation
# (exit 1)
order() {
    python3 - "$1" "$2" "${3:-refs/heads/main}" <<'EOF'
import re, sys
trace, what, ref = sys.argv[1], sys.argv[2], sys.argv[3]
refdir = ref.rsplit("/", 1)[0]
events = []  # (kind, detail)
for line in open(trace):
    m = re.match(r"^\d+\s+(\w+)\((.*)$", line)
    if not m or "<unfinished" in line or "resumed>" in line:
        continue
    call, args = m.group(1), m.group(2)
    if call in ("write", "pwrite64") and re.match(r"1<", args):
        events.append(("ack", args[:60]))
    elif call in ("write", "pwrite64") and "/objects/" in args.split(",")[0]:
        events.append(("objwrite", args[:80]))
    elif "/logs/" in args.split(",")[0]:
        continue  # the reflog is not the ref
    elif call.startswith("unlink"):
        if re.search(r'/objects/pack/pack-[0-9a-f]+\.(pack|idx)"', args):
            events.append(("packunlink", args[:100]))
    elif call.startswith("rename") or call.startswith("link"):
        if re.search(r'/origins/[^"/]+/signed"\) = 0', args):
            events.append(("staterename", args[:100]))
        elif re.search(re.escape(ref) + r'\.lock", .*' + re.escape(ref) + '"', args):
            events.append(("refmove", args[:100]))
        elif "/objects/" in args:
            events.append(("objrename", args[:100]))
            if re.search(r'/objects/pack/pack-[0-9a-f]+\.pack"', args):
                events.append(("packrename", args[:100]))
    elif call in ("fsync", "fdatasync") and re.match(r"\d+<[^>]*/objects/pack/tmp_pack_[^>/]*>", args):
        events.append(("packfsync", args[:80]))
        events.append(("syncfs", args[:80]))
    elif call in ("fsync", "fdatasync") and re.match(r"\d+<[^>]*/objects/pack>", args):
        events.append(("packdirfsync", args[:80]))
        events.append(("syncfs", args[:80]))
    elif call == "syncfs" and re.match(r"\d+<[^>]*/objects>", args):
        events.append(("syncfs", args[:80]))
    elif call in ("fsync", "fdatasync") and re.match(r"\d+<[^>]*/objects(/[^>]*)?>", args):
        events.append(("syncfs", args[:80]))  # a pack (or its directory) fsynced: same role
    elif call in ("fsync", "fdatasync") and re.match(r"\d+<[^>]*/origins/[^>/]+>", args):
        events.append(("statedirfsync", args[:80]))
    elif call in ("fsync", "fdatasync") and re.match(r"\d+<[^>]*/" + re.escape(ref) + ">", args):
        events.append(("reffsync", args[:80]))
    elif call in ("fsync", "fdatasync") and re.match(r"\d+<[^>]*/" + re.escape(refdir) + ">", args):
        events.append(("dirfsync", args[:80]))
# a writer with a memory (AUDITFS_STATE) remembers each signed checkpoint before its ref moves
memory = any(k == "staterename" for k, _ in events)
acks, window = 0, []
for kind, detail in events:
    if kind != "ack":
        window.append(kind)
        continue
    acks += 1
    # after the ref moved and was fsynced, the writer may merge batch packs (ledger/packmerge.c):
    # the merged pack fsynced before its rename, objects/pack/ fsynced after the renames and
    # before any old pack is removed, and again after the removals, all before the ack
    cut = next((i for i, x in enumerate(window) if x == "dirfsync" and "refmove" in window[:i]), None)
    if cut is not None:
        tail, window = window[cut + 1:], window[:cut + 1]
        ren = [i for i, x in enumerate(tail) if x == "packrename"]
        unl = [i for i, x in enumerate(tail) if x == "packunlink"]
        dfs = [i for i, x in enumerate(tail) if x == "packdirfsync"]
        pfs = [i for i, x in enumerate(tail) if x == "packfsync"]
        merge_problem = None
        if unl and not ren:
            merge_problem = "a pack was removed after the ref moved but no merged pack was written"
        elif ren and not (pfs and pfs[0] < ren[0]):
            merge_problem = "the merged pack was not fsynced before its rename"
        elif ren and unl and not any(ren[-1] < d < unl[0] for d in dfs):
            merge_problem = "old packs were removed before objects/pack/ was fsynced after the merged pack's rename"
        elif unl and not any(d > unl[-1] for d in dfs):
            merge_problem = "objects/pack/ was not fsynced after the old packs were removed"
        if merge_problem:
            print(f"{what}: acknowledgment {acks} ({detail}): {merge_problem}; "
                  f"after the ref: {' '.join(tail[-16:])}")
            sys.exit(1)
    def last(k):
        return max((i for i, x in enumerate(window) if x == k), default=-1)
    def first(k):
        return min((i for i, x in enumerate(window) if x == k), default=-1)
    problems = []
    if last("syncfs") < 0:
        problems.append("objects/ was not synced (syncfs, or fsync of a pack and its directory) before it")
    if last("refmove") < 0:
        problems.append("the ref did not move before it")
    if last("reffsync") < 0:
        problems.append(f"no fsync of {ref} before it")
    if last("dirfsync") < 0:
        problems.append(f"no fsync of {refdir}/ before it")
    if not problems:
        if max(last("objwrite"), last("objrename")) > last("syncfs"):
            problems.append("an object was written after the last syncfs")
        # a batch written as a pack: the pack fsynced before its rename, the directory after
        # the renames, both before the ref moves (ledger/pack.c)
        if last("packrename") >= 0 and not (0 <= last("packfsync") < first("packrename")):
            problems.append("the pack was not fsynced before its rename")
        if last("packrename") >= 0 and not (last("packrename") < last("packdirfsync") < first("refmove")):
            problems.append("objects/pack/ was not fsynced after the pack's rename and before the ref moved")
        if memory and not (0 <= last("staterename") < last("statedirfsync") < first("refmove")):
            problems.append("the signed checkpoint was not remembered (state file renamed and "
                            "its directory fsynced) before the ref moved")
        if last("syncfs") > first("refmove"):
            problems.append("the ref moved before syncfs")
        if last("reffsync") < last("refmove"):
            problems.append(f"{ref} was not fsynced after it moved")
        if last("dirfsync") < last("refmove"):
            problems.append(f"{refdir}/ was not fsynced after the rename")
    if problems:
        print(f"{what}: acknowledgment {acks} ({detail}): {'; '.join(problems)}; "
              f"order seen (last 12): {' '.join(window[-12:])}")
        sys.exit(1)
    window = []
print(acks)
EOF
}

$A keygen durable.example -o key >/dev/null
$A init --ledger L --key key 2>/dev/null
records 600 1 >r1
# about 30 batches, as many acknowledgments
strace -f -y -qq -e trace=$SYSCALLS -o append.trace \
    $A append --ledger L --key key --stream api --batch-bytes 6000 --no-index r1 >ack.out 2>ack.err
rc=$?
[ $rc -eq 0 ] && [ "$(wc -l <ack.out)" -ge 3 ] && ok "append under strace: $(wc -l <ack.out) acknowledgments" ||
    not_ok "append under strace (exit $rc, $(wc -l <ack.out) acknowledgments): $(head -c 300 ack.err)"
if n=$(order append.trace append); then
    [ "$n" = "$(wc -l <ack.out)" ] && ok "append: objects, syncfs, ref rename, ref fsync, dir fsync, then each of the $n acknowledgments" ||
        not_ok "append: $n acknowledgments in the trace, $(wc -l <ack.out) printed"
else
    not_ok "$n"
fi
# more than 16 batches: the writer merged batch packs at least once (ledger/packmerge.c), and
# order() checked the merge's fsyncs and removals after the ref's
grep -qE 'unlink(at)?\(.*objects/pack/pack-[0-9a-f]+\.pack' append.trace &&
    ok "a pack merge was traced (and its order checked)" || not_ok "no pack merge in the traced append"
$A verify --ledger L --key key.pub >/dev/null 2>&1 && ok "the traced ledger verifies" || not_ok "the traced ledger does not verify"

# publish acknowledges one document the same way
echo "# SLA v1" >sla.md
strace -f -y -qq -e trace=$SYSCALLS -o publish.trace \
    $A publish --ledger L --key key --name sla/compute sla.md >pub.out 2>pub.err
rc=$?
[ $rc -eq 0 ] && grep -q 'sla/compute v1' pub.out && ok "publish under strace" ||
    not_ok "publish under strace (exit $rc): $(head -c 300 pub.err)"
if n=$(order publish.trace publish); then
    [ "$n" -ge 1 ] && ok "publish: syncfs, ref rename and fsyncs before its acknowledgment" ||
        not_ok "publish: no acknowledgment in the trace"
else
    not_ok "$n"
fi

# a cosignature moves refs/auditfs/cosignatures through the same routine (ledger/publish.c):
# objects synced, the side ref renamed, it and refs/auditfs/ fsynced, then "stored" is printed
$A keygen witness.example -o wkey >/dev/null
git clone -q --mirror L W.git
AUDITFS_STATE=$WORK/wstate $A cosign --ledger W.git --key wkey --log-key key.pub >/dev/null 2>&1 &&
    $A checkpoint --ledger W.git >cp.cosigned && ok "a witness cosigns a copy" ||
    not_ok "cosign of the copy failed"
strace -f -y -qq -e trace=$SYSCALLS -o cosig.trace \
    $A cosignatures add --ledger L --witness wkey.pub cp.cosigned >cos.out 2>cos.err
rc=$?
[ $rc -eq 0 ] && grep -q ' stored$' cos.out && ok "cosignatures add under strace" ||
    not_ok "cosignatures add under strace (exit $rc): $(head -c 300 cos.err)"
if n=$(order cosig.trace "cosignatures add" refs/auditfs/cosignatures); then
    [ "$n" -ge 1 ] && ok "cosignatures add: syncfs, side ref rename and fsyncs before its acknowledgment" ||
        not_ok "cosignatures add: no acknowledgment in the trace"
else
    not_ok "$n"
fi
# Every file the library replaces atomically (ledger/fileio.c afs_write_atomic: the verifier's
# memory, a witness's state, the writer's signed checkpoint, index keys, bundle files) goes
# temp file written, fsync(temp), rename(temp -> file), fsync(its directory), and all of it
# before the command prints its answer or exits. A rename without the fsync before it can
# leave an empty file after a power cut; kill -9 cannot show that either.
# atomic TRACE WHAT: prints the number of atomic replacements checked, or the first violation
atomic() {
    python3 - "$1" "$2" <<'EOF2'
import os, re, sys
trace, what = sys.argv[1], sys.argv[2]
lastwrite, synced = {}, {}   # temp path -> index of its last write / of an fsync after it
pending = {}                 # pid -> [(directory, file)] renamed, directory not yet fsynced
checked = 0
def fail(msg):
    print(f"{what}: {msg}")
    sys.exit(1)
for i, line in enumerate(open(trace)):
    m = re.match(r"^(\d+)\s+(\w+)\((.*)$", line)
    if not m or "<unfinished" in line or "resumed>" in line:
        continue
    pid, call, args = m.group(1), m.group(2), m.group(3)
    fd = re.match(r"(\d+)<([^>]*)>", args)
    if call in ("write", "pwrite64") and fd and fd.group(1) == "1" or call == "exit_group":
        if pending.get(pid):
            d, f = pending[pid][0]
            fail(f"{os.path.basename(f)} renamed into place but {d} not fsynced before "
                 f"the command's {'output' if call != 'exit_group' else 'exit'}")
        continue
    if call in ("write", "pwrite64") and fd and re.search(r"\.tmp\.\d+$", fd.group(2)):
        lastwrite[fd.group(2)] = i
        synced.pop(fd.group(2), None)
    elif call in ("fsync", "fdatasync") and fd:
        path = fd.group(2)
        if path in lastwrite:
            synced[path] = i
        for p in list(pending):
            pending[p] = [(d, f) for d, f in pending[p] if d != path]
    elif call.startswith("rename") and args.rstrip().endswith("= 0"):
        names = re.findall(r'"([^"]*)"', args)
        if len(names) != 2 or not re.search(r"\.tmp\.\d+$", names[0]):
            continue
        src, dst = names
        if re.sub(r"\.tmp\.\d+$", "", src) != dst:
            continue
        checked += 1
        if src not in synced:
            fail(f"{src} renamed to {os.path.basename(dst)} without an fsync after its last write")
        pending.setdefault(pid, []).append((os.path.dirname(dst), dst))
left = [(d, f) for v in pending.values() for d, f in v]
if left:
    fail(f"{left[0][1]} renamed into place, {left[0][0]} never fsynced")
print(checked)
EOF2
}
ATOMIC_CALLS=fsync,fdatasync,rename,renameat,renameat2,write,pwrite64,exit_group

# the writer's memory: append's signed checkpoints (the traces above)
for t in append publish; do
    if n=$(atomic $t.trace $t); then
        [ "$n" -ge 1 ] && ok "$t: $n state files written, fsynced, renamed, directory fsynced before the acknowledgment" ||
            not_ok "$t: no atomic replacement in the trace (the writer's memory is not written?)"
    else
        not_ok "$n"
    fi
done
# a verifier's first use: the key pinned, the ledger bound, the checkpoint remembered
strace -f -y -qq -e trace=$ATOMIC_CALLS -o pin.trace \
    env AUDITFS_STATE=$WORK/verifier $A verify --ledger L --key key.pub >pin.out 2>pin.err
rc=$?
[ $rc -eq 0 ] && ok "verify with a fresh memory under strace" || not_ok "verify under strace (exit $rc): $(head -c 300 pin.err)"
if n=$(atomic pin.trace verify); then
    [ "$n" -ge 4 ] && ok "verify: $n memory files (format, origin, keys, seen, binding) durable before its answer" ||
        not_ok "verify: $n atomic replacements in the trace, expected the format, origin, keys, seen and binding files"
else
    not_ok "$n"
fi
# a witness without HTTP: its state holds what it cosigned before the cosignature is printed
$A keygen witness.example -o w.key >/dev/null
strace -f -y -qq -e trace=$ATOMIC_CALLS -o cosign.trace \
    env AUDITFS_STATE=$WORK/witness $A cosign --ledger L --key w.key --log-key key.pub >cos.out 2>cos.err
rc=$?
[ $rc -eq 0 ] && grep -q '^— witness.example ' cos.out && ok "cosign under strace" ||
    not_ok "cosign under strace (exit $rc): $(head -c 300 cos.err)"
if n=$(atomic cosign.trace cosign); then
    [ "$n" -ge 1 ] && grep -q 'witness.*\.tmp\.[0-9]*", ' cosign.trace &&
        ok "cosign: $n state files (the witness's among them) durable before the cosignature is printed" ||
        not_ok "cosign: the witness state was not written atomically ($n replacements)"
else
    not_ok "$n"
fi

finish
