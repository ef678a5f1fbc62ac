#!/bin/bash
# The C tokenizer (data/tokenizer.h, through tests/tools/tokenize.c)
# against the tokenizers package, id for id, on tokenizers it trains on
# the fortunes: tests/python/check_tokenizer.py says what is compared.
# Needs a Python with tokenizers: $ACCEL_TEST_PYTHON, or the .venv that
# tests/run.sh makes; and the fortunes, English and Chinese. SKIPPED
# without them. A third argument, --quick, checks less (the sanitizer
# build's run: its C side is what the sanitizers watch, and the fuzzers
# and unit test reach the rest).
tokenize=$1 src=$2 quick=${3:-}
source "$(dirname "$0")/lib.sh"
py=${ACCEL_TEST_PYTHON:-$src/.venv/bin/python}
"$py" -c "import tokenizers" 2>/dev/null ||
    { echo "SKIPPED: no Python with the tokenizers package at $py (tests/run.sh makes one)"; exit 77; }
FORTUNES=${FORTUNES_DIR:-/usr/share/games/fortunes}
[ -f "$FORTUNES/art" ] && [ -f "$FORTUNES/chinese" ] ||
    { echo "SKIPPED: no fortunes in $FORTUNES (apt-get install fortunes fortunes-zh)"; exit 77; }
"$py" "$src/tests/python/check_tokenizer.py" "$tokenize" "$work" --fortunes "$FORTUNES" ${quick:+"$quick"} ||
    fail "the C tokenizer's ids are not the tokenizers package's"
