#!/usr/bin/env python3
"""tests/cli/forge_index.py - forges a query index that hides every entry (issue 13).

    forge_index.py INDEXDIR MODE

Replaces INDEXDIR's runs by one run over [0, size) that has no keys and no days, so an index
that is believed answers every indexed query with nothing. Everything an attacker without the
party's key can compute is recomputed: the run's header hash and file hash, the partition hash,
and the meta's check value. MODE says how the meta is sealed:
  check    format 1 with its unkeyed "check SHA-256" line (the index format before issue 13)
  mac      the current format (2, 3 since the _event_day key) with "mac" = HMAC-SHA256 under a
           random key (not the party's)
  copymac  the current format keeping the real mac line (a mac over different bytes)
  key=FILE the current format sealed with the party's own key from FILE (the control: shows the forgery
           would hide entries if the key did not protect it)
"""
import hashlib
import hmac
import os
import struct
import sys

d, mode = sys.argv[1], sys.argv[2]
text = open(os.path.join(d, "meta")).read()
lines = text.splitlines()
size = root = fields = mac = None
for ln in lines:
    if ln.startswith("size "):
        size = int(ln[5:])
    elif ln.startswith("root "):
        root = ln[5:]
    elif ln.startswith("fields"):
        fields = ln
    elif ln.startswith("mac "):
        mac = ln
assert size is not None and root is not None and fields is not None
current = int(lines[0].split("/")[1])  # the format the tool under test writes

# header (80) + one partition entry (48): the partition is empty, there are no postings
base = 80 + 48
head = b"AFSIX01\n" + struct.pack(">QQIIQQQ", 0, size, 1, 0, 0, base, base)
head += b"\0" * (80 - len(head))
head += struct.pack(">QII", base, 0, 0) + hashlib.sha256(b"").digest()
name = "r0000000000000000-forged.ix"
for f in os.listdir(d):
    if f.startswith("r"):
        os.unlink(os.path.join(d, f))
with open(os.path.join(d, name), "wb") as f:
    f.write(head)
hs = hashlib.sha256(head).hexdigest()
body = "auditfs-index/%d\nsize %d\nroot %s\n%s\nrun 0 %d %s %s %s\n" % (
    1 if mode == "check" else current, size, root, fields, size, name, hs, hs)
if mode == "check":
    body += "check %s\n" % hashlib.sha256(body.encode()).hexdigest()
elif mode == "mac":
    body += "mac %s\n" % hmac.new(os.urandom(32), body.encode(), hashlib.sha256).hexdigest()
elif mode.startswith("key="):
    k = open(mode[4:], "rb").read()
    body += "mac %s\n" % hmac.new(k, body.encode(), hashlib.sha256).hexdigest()
else:
    body += mac + "\n"
with open(os.path.join(d, "meta"), "w") as f:
    f.write(body)
