#!/bin/bash
# docs/config.md is what `accel-train --help-config` prints from the key
# table the parser reads, so the reference cannot drift from the program.
prog=$1 src=$2
source "$(dirname "$0")/lib.sh"
run --help-config
[ $rc -eq 0 ] || fail "--help-config: exit $rc"
diff -u "$src/docs/config.md" out.txt ||
    fail "docs/config.md is out of date: build/accel-train --help-config > docs/config.md"
# and --help lists the same keys
run --help
for key in $(grep -o '^| `[a-z_0-9]*`' "$src/docs/config.md" | tr -d '|` '); do
    grep -q "^  $key " out.txt || fail "--help does not list $key"
done
echo "config_doc: all passed"
