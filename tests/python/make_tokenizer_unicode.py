"""Writes data/tokenizer_unicode.h: the letters and numbers that the
tokenizers package knows and Debian 12's PCRE2 does not yet.

    .venv/bin/python tests/python/make_tokenizer_unicode.py > data/tokenizer_unicode.h

PCRE2 10.42 (Debian 12) has Unicode 14.0's tables; the tokenizers package's
regex engine (Oniguruma, 0.23.3: Unicode 16.0) has newer ones, in which
some nine thousand code points unassigned in 14.0 became letters (\\p{L}) or
numbers (\\p{N}): CJK extensions H and I, Egyptian hieroglyphs, Kawi, ...
The C pre-tokenizer adds them to its \\p{L} and \\p{N} (tokenizer_encode.c),
so that it cuts text where the tokenizers package does. This script finds
them without a table of its own: every code point that Python's
unicodedata, at the same Unicode 14.0 as that PCRE2, calls unassigned (Cn)
is shown to the tokenizers package's ByteLevel pre-tokenizer after an "a"
and after a "1": joined to the "a", it is a letter there; to the "1", a
number. Categories of assigned code points never change, so with a PCRE2
as new as the tokenizers package or newer the lists add nothing it lacks.
The parity test (check_tokenizer.py) checks every code point's cut.
"""

import shutil
import subprocess
import sys
import unicodedata

import tokenizers
from tokenizers import pre_tokenizers

PCRE2_UNICODE = "14.0.0"


def ranges(cps):
    out = []
    for cp in cps:
        if out and out[-1][1] == cp - 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def pcre2_class(cps):
    """The code points as the inside of a PCRE2 class, in C string pieces."""
    parts = [f"\\\\x{{{a:X}}}" + (f"-\\\\x{{{b:X}}}" if b > a else "") for a, b in ranges(cps)]
    lines, cur = [], ""
    for p in parts:
        if len(cur) + len(p) > 84:
            lines.append(cur)
            cur = ""
        cur += p
    lines.append(cur)
    return " \\\n".join(f'    "{line}"' for line in lines)


def main():
    if unicodedata.unidata_version != PCRE2_UNICODE:
        sys.exit(f"this Python's unicodedata is Unicode {unicodedata.unidata_version}, not "
                 f"{PCRE2_UNICODE} (PCRE2 10.42's): run it with Python 3.11")
    pt = pre_tokenizers.ByteLevel(add_prefix_space=False)
    letters, numbers = [], []
    for cp in range(0x110000):
        c = chr(cp)
        if 0xD800 <= cp < 0xE000 or unicodedata.category(c) != "Cn":
            continue
        if len(pt.pre_tokenize_str("a" + c)) == 1:
            letters.append(cp)
        elif len(pt.pre_tokenize_str("1" + c)) == 1:
            numbers.append(cp)
    header = f"""/* tokenizer_unicode: the code points that are letters (\\p{{L}}) or numbers
 * (\\p{{N}}) to the tokenizers package's pre-tokenizer (tokenizers
 * {tokenizers.__version__}) and unassigned in Unicode {PCRE2_UNICODE}, the tables of Debian 12's
 * PCRE2 10.42: {len(letters)} letters and {len(numbers)} numbers, as the inside of a PCRE2
 * class. Written by tests/python/make_tokenizer_unicode.py; do not edit. */
#ifndef ACCEL_TOKENIZER_UNICODE_H
#define ACCEL_TOKENIZER_UNICODE_H

#define TOK_NEWER_L \\
{pcre2_class(letters)}

#define TOK_NEWER_N \\
{pcre2_class(numbers)}

#endif
"""
    # as the style check wants it (tests/style.sh)
    if shutil.which("clang-format"):
        header = subprocess.run(["clang-format", "--assume-filename=data/tokenizer_unicode.h"],
                                input=header, capture_output=True, text=True, check=True).stdout
    sys.stdout.write(header)


if __name__ == "__main__":
    main()
