#!/usr/bin/env python3
"""Builds the CID -> Unicode tables of the Adobe character collections.

Input: Adobe's `Adobe-<Ordering>-UCS2` CMaps (BSD-3-Clause, (c) Adobe; the
copies in Debian's poppler-data package, /usr/share/poppler/cMap/), which map
each CID of a collection to UTF-16. Variation selectors are dropped (text
extraction wants the base character).

Output, per collection, `<Ordering>.bin.z` (zlib):
  u32 LE n; n x u16 LE (the BMP char of CID i, 0 = none or see extras);
  u32 LE m; m x (u32 LE cid, u8 len, len x u32 LE scalar) for the others.

    python3 generate.py [/usr/share/poppler/cMap]
"""
import os, re, struct, sys, zlib

src = sys.argv[1] if len(sys.argv) > 1 else '/usr/share/poppler/cMap'
out_dir = os.path.dirname(os.path.abspath(__file__))


def utf16(h):
    b = bytes.fromhex(h)
    s = b.decode('utf-16-be', errors='replace')
    return ''.join(c for c in s if not (0xFE00 <= ord(c) <= 0xFE0F or 0xE0100 <= ord(c) <= 0xE01EF))


for ordering in ['Japan1', 'GB1', 'CNS1', 'Korea1']:
    text = open(f'{src}/Adobe-{ordering}/Adobe-{ordering}-UCS2', encoding='latin-1').read()
    m = {}
    for block in re.findall(r'beginbfchar(.*?)endbfchar', text, re.S):
        for cid, val in re.findall(r'<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>', block):
            m[int(cid, 16)] = utf16(val)
    for block in re.findall(r'beginbfrange(.*?)endbfrange', text, re.S):
        for lo, hi, rest in re.findall(r'<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*(\[[^\]]*\]|<[0-9a-fA-F]+>)', block):
            lo, hi = int(lo, 16), int(hi, 16)
            if rest.startswith('['):
                for i, v in enumerate(re.findall(r'<([0-9a-fA-F]+)>', rest)):
                    m[lo + i] = utf16(v)
            else:
                b = bytes.fromhex(rest[1:-1])
                for i in range(hi - lo + 1):
                    v = bytearray(b)
                    v[-1] = (v[-1] + i) & 0xFF  # the last byte increments
                    m[lo + i] = utf16(v.hex())
    n = max(m) + 1
    dense = [0] * n
    extras = []
    for cid, s in sorted(m.items()):
        if s == '\ufffd' or not s:
            continue
        if len(s) == 1 and ord(s) < 0x10000 and not (0xD800 <= ord(s) <= 0xDFFF):
            dense[cid] = ord(s)
        else:
            extras.append((cid, s))
    data = struct.pack('<I', n) + struct.pack(f'<{n}H', *dense) + struct.pack('<I', len(extras))
    for cid, s in extras:
        data += struct.pack('<IB', cid, len(s)) + b''.join(struct.pack('<I', ord(c)) for c in s)
    z = zlib.compress(data, 9)
    open(f'{out_dir}/{ordering}.bin.z', 'wb').write(z)
    print(ordering, 'cids', n, 'mapped', sum(1 for v in dense if v) + len(extras), 'extras', len(extras), 'bytes', len(z))
