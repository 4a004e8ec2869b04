#!/usr/bin/env python3
"""Regenerates `en_background.txt`, the general-English background frequency
list used by `nlp::keywords` (and, through it, `summary` and `profile`).

Source: the `wordfreq` package from PyPI (version 3.1.1, Robyn Speer et al.),
its "large" English list. Code Apache-2.0; the frequency data is CC BY-SA 4.0
(see README.md in this folder for attribution and what that means for the
derived file).

Usage:
    python3 -m venv /tmp/wf && /tmp/wf/bin/pip install wordfreq==3.1.1
    /tmp/wf/bin/python make_en_background.py > en_background.txt

Output format (plain text, one line per frequency bucket, most frequent first):
    <centibels><TAB><word> <word> ...
A word in bucket `c` has a frequency of 10^(-c/100) per token of running
English text (wordfreq's own "cBpack" bucketing, one centibel wide).
Only words made of the ASCII letters a-z are kept (2+ letters, plus "a"
and "i"), the top LIMIT of them by frequency.
"""

import re
import sys

import wordfreq

LIMIT = 60000
WORD = re.compile(r"^[a-z]+$")


def main() -> None:
    buckets = wordfreq.get_frequency_list("en", wordlist="large")
    kept = 0
    out = sys.stdout
    for centibels, words in enumerate(buckets):
        chosen = []
        for w in words:
            if kept >= LIMIT:
                break
            if WORD.match(w) and (len(w) >= 2 or w in ("a", "i")):
                chosen.append(w)
                kept += 1
        if chosen:
            out.write(f"{centibels}\t{' '.join(sorted(chosen))}\n")
        if kept >= LIMIT:
            break


if __name__ == "__main__":
    main()
