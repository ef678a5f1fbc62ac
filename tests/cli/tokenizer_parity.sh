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
need_python tokenizers
need_fortunes art chinese
"$py" "$src/tests/python/check_tokenizer.py" "$tokenize" "$work" --fortunes "$FORTUNES" ${quick:+"$quick"} ||
    fail "the C tokenizer's ids are not the tokenizers package's"
