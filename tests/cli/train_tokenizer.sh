#!/bin/bash
# trainer/scripts/train_tokenizer.py: trains on the training part of what
# data.format = text reads (files, a directory, a glob, the excludes, the
# cut at val_fraction), nothing else; what it writes loads in the C
# tokenizer and round-trips; the same text trains the same file; bad
# options get one line. Needs a Python with tokenizers: $ACCEL_TEST_PYTHON,
# or the .venv that tests/run.sh makes; SKIPPED without one.
prog=$1 src=$2 tokenize=$3
source "$(dirname "$0")/lib.sh"
need_python tokenizers
train_tok=$src/trainer/scripts/train_tokenizer.py

# words that say where the tokenizer learned: each is frequent in one place
mkdir -p txt/sub more
word() { for ((i = 0; i < $2; i++)); do printf '%s ' "$1"; done; echo; }
{ word alpha 300; word beta 300; } >txt/a.txt
word gamma 300 >txt/b.txt
word hiddenword 300 >txt/.hidden        # a dot file: not listed
word excludedword 300 >txt/c.dat        # left out by --exclude
word subdirword 300 >txt/sub/d.txt      # a subdirectory: not read
word globword 300 >more/g.txt           # through a glob
ln -s ../more/g.txt txt/link.txt        # a link in a directory: not read
# the last file: most of it past the cut, so never trained on
{ word delta 200; word zyzzyva 400; } >txt/z.txt
config() {
    cat >"$1" <<INI
[run]
name = tok
[data]
format = text
train = txt,more/*.txt
exclude = *.dat
val_fraction = 0.3
test =
[train]
max_steps = 1
[layer]
type = embedding
vocab = 256
units = 8
block_size = 16
[layer]
type = dense
units = 256
INI
}
config c.ini
"$py" "$train_tok" --vocab_size 280 --config c.ini tok.json >out.txt 2>err.txt ||
    fail "train_tokenizer.py --config c.ini"
cat out.txt
grep -q '^tok.json: 280 tokens (1 special)' out.txt || fail "not 280 tokens: $(cat out.txt)"
# the bytes trained on are the training part accel-train reads: its
# windows of 16 tokens number that part's bytes less 16
trained=$(sed -nE 's/.* trained on ([0-9,]+) bytes .*/\1/p' out.txt | tr -d ,)
run c.ini --set run.dir=run --set run.device=cpu --set checkpoint.every_steps=0
[ $rc -eq 0 ] || fail "accel-train on c.ini: exit $rc"
windows=$(sed -nE 's/^data: ([0-9]+) train.*/\1/p' out.txt)
[ "$((windows + 16))" = "$trained" ] ||
    fail "trained on $trained bytes; accel-train's training part is $((windows + 16))"
echo "ok: trained on accel-train's training part, $trained bytes"

# what the vocabulary learned, and what it never saw
vocab() { "$py" -c "import json,sys; v=json.load(open(sys.argv[1]))['model']['vocab']; print(' '.join(sorted(v)))" "$1"; }
v=$(vocab tok.json)
for w in alpha beta gamma globword; do
    [[ " $v " == *" Ġ$w "* ]] || fail "' $w' (trained on) is not a token"
done
for w in hiddenword excludedword subdirword zyzzyva; do
    [[ "$v" == *"$w"* || "$v" == *"zyzz"* ]] && fail "a token of '$w', which training never saw"
done
[[ "$v" == *"<|endoftext|>"* ]] || fail "no <|endoftext|>"
echo "ok: learned from the training part's files alone"

# the C tokenizer loads it, and every file round-trips through it
"$tokenize" tok.json --info >info.txt || fail "the C tokenizer refuses tok.json: $(cat info.txt)"
for f in txt/a.txt txt/z.txt more/g.txt; do
    "$tokenize" tok.json <"$f" >ids.txt || fail "encoding $f"
    "$tokenize" tok.json --decode <ids.txt | cmp -s - "$f" || fail "$f does not round-trip"
done
[ "$(wc -w <ids.txt)" -lt 400 ] || fail "globword's 300 words take $(wc -w <ids.txt) tokens"
echo "ok: the C tokenizer loads it and round-trips the text"

# the same text and options train the same file; inputs named outright
# (with --exclude, --val_fraction) train the same as the config
"$py" "$train_tok" --vocab_size 280 --config c.ini tok2.json >/dev/null || fail "the second run"
cmp -s tok.json tok2.json || fail "two runs on the same text differ"
"$py" "$train_tok" --vocab_size 280 --val_fraction 0.3 --exclude '*.dat' tok3.json \
    'more/*.txt' txt >/dev/null || fail "train_tokenizer.py with INPUTs"
cmp -s tok.json tok3.json || fail "INPUTs and --exclude train otherwise than the config"
"$py" "$train_tok" --vocab_size 290 --special '' --val_fraction 0 tok4.json txt >out.txt ||
    fail "--special ''"
grep -q '290 tokens (0 special)' out.txt || fail "--special '': $(cat out.txt)"
[[ "$(vocab tok4.json)" == *zyzzyva* ]] || fail "--val_fraction 0 did not train on the last file"
echo "ok: deterministic; INPUTs as the config; --special, --val_fraction"

# bad options: one line, exit 1, nothing written
refuses() {
    local pattern=$1
    shift
    rm -f bad.json
    "$py" "$train_tok" "$@" >out.txt 2>err.txt
    local status=$?
    [ $status -eq 1 ] || fail "$*: exit $status, expected 1"
    [ "$(wc -l <err.txt)" -eq 1 ] || fail "$*: stderr is not one line"
    grep -Eq "^train_tokenizer: error: $pattern" err.txt || fail "$*: $(cat err.txt)"
    [ ! -e bad.json ] || fail "$*: wrote bad.json"
    echo "ok: $(cat err.txt)"
}
refuses '--vocab_size 200: expected 256' --vocab_size 200 bad.json txt
refuses 'no text' --vocab_size 300 bad.json
refuses 'cannot open nowhere' --vocab_size 300 bad.json nowhere
refuses 'no file matches none/\*' --vocab_size 300 bad.json 'none/*'
refuses '--val_fraction 1.0' --vocab_size 300 --val_fraction 1 bad.json txt
refuses 'txt/a.txt: is an input' --vocab_size 300 txt/a.txt txt
mkfifo txt/fifo
refuses 'txt/fifo is a FIFO' --vocab_size 300 bad.json txt
rm txt/fifo
printf '[data]\nformat = tokens\n' >t.ini
refuses 't.ini: data.format is tokens, not text' --vocab_size 300 --config t.ini bad.json
echo "PASS"
