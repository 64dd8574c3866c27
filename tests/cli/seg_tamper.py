#!/usr/bin/env python3
"""seg_tamper.py SEGMENT SEQ OUT: writes to OUT a copy of the segment blob SEGMENT (docs/FORMAT.md
section 7) in which entry SEQ's payload says "failure" instead of "success", recompressed with
the zstd CLI and with the index updated: a well-formed segment that holds another leaf, so
only the hashes (tiles, root) can tell."""
import os
import subprocess
import sys
import tempfile

blob = open(sys.argv[1], "rb").read()
seq = int(sys.argv[2])
assert int.from_bytes(blob[0:4], "little") == 0x184D2A5A, "no index frame"
isize = int.from_bytes(blob[4:8], "little")
idx = blob[8:8 + isize]
magic, first, n = idx[0:8], int.from_bytes(idx[8:16], "big"), int.from_bytes(idx[16:20], "big")
assert magic in (b"AFSSEG1\0", b"AFSSEG2\0"), magic
frames, off, s = [], 8 + isize, first
for i in range(n):
    e = idx[20 + 12 * i:32 + 12 * i]
    cs, us, cnt = (int.from_bytes(e[k:k + 4], "big") for k in (0, 4, 8))
    frames.append([off, cs, us, cnt, s])
    off, s = off + cs, s + cnt
fi = next(i for i, f in enumerate(frames) if f[4] <= seq < f[4] + f[3])
foff, cs, us, cnt, fs = frames[fi]
raw = bytearray(subprocess.run(["zstd", "-dcq"], input=blob[foff:foff + cs], stdout=subprocess.PIPE,
                               check=True).stdout)
p = 32 if magic == b"AFSSEG2\0" else 0
for _ in range(seq - fs):
    p += 4 + int.from_bytes(raw[p:p + 4], "big")
ln = int.from_bytes(raw[p:p + 4], "big")
rec = raw[p + 4:p + 4 + ln]
at = rec.find(b"success")
assert at >= 0, "entry has no 'success' to change"
raw[p + 4 + at:p + 4 + at + 7] = b"failure"
with tempfile.NamedTemporaryFile(delete=False) as t:
    t.write(raw)
comp = subprocess.run(["zstd", "-3", "-qc", t.name], stdout=subprocess.PIPE, check=True).stdout
os.unlink(t.name)
frames[fi][1] = len(comp)
out = bytearray(blob[0:8]) + idx[0:20]
for f in frames:
    out += f[1].to_bytes(4, "big") + f[2].to_bytes(4, "big") + f[3].to_bytes(4, "big")
for i, f in enumerate(frames):
    out += comp if i == fi else blob[f[0]:f[0] + f[1]]
open(sys.argv[3], "wb").write(out)
