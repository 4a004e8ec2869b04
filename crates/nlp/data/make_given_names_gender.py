#!/usr/bin/env python3
"""Regenerates given-names-gender.txt from the US Census Bureau's 1990 given-name
frequency files (public domain), as shipped in the `names` PyPI package 0.3.0 (MIT):

    pip download --no-deps names==0.3.0 && tar xzf names-0.3.0.tar.gz
    python3 crates/nlp/data/make_given_names_gender.py names-0.3.0/names > crates/nlp/data/given-names-gender.txt

Keeps the names at least 95% of whose bearers (by the files' frequency shares) had one gender.
"""
import sys

d = sys.argv[1]
m, f = {}, {}
for path, table in ((f"{d}/dist.male.first", m), (f"{d}/dist.female.first", f)):
    for line in open(path):
        p = line.split()
        table[p[0].lower()] = float(p[1])
print("""# Given names and their gender, from the US Census Bureau's 1990 name
# frequency files (dist.male.first, dist.female.first; a US government work,
# public domain), as shipped in the `names` PyPI package 0.3.0 (MIT). Only
# names at least 95% of whose bearers in the census had that gender; lower
# case, sorted, "name m|f". Used by alias clustering: "Winnie Verloc" is not
# "Mr Verloc". Regenerate: crates/nlp/data/README.md.""")
for n in sorted(set(m) | set(f)):
    a, b = m.get(n, 0.0), f.get(n, 0.0)
    if a >= 0.95 * (a + b):
        print(f"{n} m")
    elif b >= 0.95 * (a + b):
        print(f"{n} f")
