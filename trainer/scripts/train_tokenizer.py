"""Trains a byte-level BPE tokenizer (GPT-2's kind) on the training part of
the text accel-train's data.format = text reads, and writes it as a
tokenizer.json (for data.tokenizer, text_shards.py --tokenizer, and
Hugging Face's tokenizers and transformers).

    python3 train_tokenizer.py --vocab_size N [--config CONFIG.ini]
                               [--val_fraction F] [--exclude PATTERNS]
                               [--special TOKENS] OUT.json [INPUT...]

The text: INPUT names files, directories (their regular files, not links,
not subdirectories) and glob patterns, and --exclude leaves out file names
matching its comma-separated patterns; or --config takes data.train,
data.exclude and data.val_fraction from a config's [data] section (given
options win). The files are joined in sorted path order and the last
--val_fraction of the bytes (default 0.1, accel-train's; cut at
len - int(len * F), as data.format = text cuts, moved back to the start of
the UTF-8 character it falls in, as data.tokenizer cuts) is the validation
part, which training never sees: the tokenizer learns from exactly the
bytes the model trains on.

The tokenizer: the tokenizers package's BPE with the ByteLevel
pre-tokenizer and decoder (add_prefix_space false), all 256 bytes in its
vocabulary, --special's comma-separated tokens (default <|endoftext|>;
empty for none) as added special tokens with the first ids, and merges
until --vocab_size tokens in all (fewer when the text runs out of pairs:
the size reached is printed). The text is handed to the trainer cut only
where GPT-2's pattern cuts anyway (after a newline between two characters
that are not white space), so it counts the pieces encoding will see.
Bytes that are not UTF-8 become U+FFFD for training (counted on stderr);
encoding still takes every byte. OUT's directory is made where it is
missing. Errors: one line, exit 1. Needs the
tokenizers package (tests/python/requirements-tokenizer.txt).
"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import accel_config  # noqa: E402
import accel_outpath  # noqa: E402
import accel_text  # noqa: E402

CHUNK = 1 << 16
# after a newline whose neighbours are not white space: GPT-2's pattern
# cuts there whatever surrounds it, so the trainer sees the same pieces
SAFE_CUT = re.compile(r"(?<=\S\n)(?=\S)")


def fail(msg):
    print(f"train_tokenizer: error: {msg}", file=sys.stderr)
    sys.exit(1)


def chunks(text):
    """The text in pieces of about CHUNK characters, cut at SAFE_CUT."""
    start = 0
    while start < len(text):
        m = SAFE_CUT.search(text, start + CHUNK) if start + CHUNK < len(text) else None
        end = m.start() if m else len(text)
        yield text[start:end]
        start = end


def options():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vocab_size", type=int, required=True)
    ap.add_argument("--config")
    ap.add_argument("--val_fraction", type=float)
    ap.add_argument("--exclude")
    ap.add_argument("--special", default="<|endoftext|>")
    ap.add_argument("out")
    ap.add_argument("inputs", nargs="*")
    a = ap.parse_args()
    data = {}
    if a.config:
        try:
            with open(a.config, encoding="utf-8") as f:
                data = accel_config.parse(f.read())[0].get("data", {})
        except (OSError, UnicodeDecodeError, ValueError) as e:
            fail(f"{a.config}: {getattr(e, 'strerror', None) or e}")
        if data.get("format", "idx") != "text":
            fail(f"{a.config}: data.format is {data.get('format', 'idx')}, not text")
    if not a.inputs:
        a.inputs = [e for e in data.get("train", "").split(",") if e]
    if not a.inputs:
        fail("no text: name INPUT files, directories or globs, or --config with data.train")
    if a.exclude is None:
        a.exclude = data.get("exclude", "")
    if a.val_fraction is None:
        try:
            a.val_fraction = float(data.get("val_fraction", "0.1"))
        except ValueError:
            fail(f"{a.config}: data.val_fraction = {data['val_fraction']}: not a number")
    if not 0 <= a.val_fraction < 1:
        fail(f"--val_fraction {a.val_fraction}: expected 0 <= F < 1")
    a.special = [s for s in a.special.split(",") if s]
    if not 256 + len(a.special) <= a.vocab_size <= 1 << 24:
        fail(f"--vocab_size {a.vocab_size}: expected 256 + the special tokens "
             f"({256 + len(a.special)}) to 2^24")
    return a


def main():
    a = options()
    try:
        paths = accel_text.list_files(a.inputs, a.exclude)
        if not os.path.lexists(os.path.dirname(a.out) or "."):
            os.makedirs(os.path.dirname(a.out))
        accel_outpath.check_file(a.out, [(p, f"an input of this command ({p})") for p in paths],
                                 "choose another OUT")
        data = accel_text.read(paths)
    except (accel_text.TextError, accel_outpath.Refused) as e:
        fail(e)
    except OSError as e:
        fail(f"{a.out}: {e.strerror or e}")
    try:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    except ImportError:
        fail("needs the tokenizers package (pip install -r tests/python/requirements-tokenizer.txt)")
    train = data[: accel_text.cut_text(data, a.val_fraction)]
    text = train.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - train.decode("utf-8", errors="ignore").count("\ufffd")
    if bad:
        print(f"train_tokenizer: {bad} invalid UTF-8 sequences trained on as U+FFFD", file=sys.stderr)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=a.vocab_size, special_tokens=a.special,
                                  show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(chunks(text), trainer=trainer, length=len(train))
    try:
        accel_outpath.replace(a.out, lambda tmp: tok.save(tmp))
    except OSError as e:
        fail(f"{a.out}: {e.strerror or e}")
    print(f"{a.out}: {tok.get_vocab_size()} tokens ({len(a.special)} special), trained on "
          f"{len(train):,} bytes of {len(paths)} files (the validation part, "
          f"{len(data) - len(train):,} bytes, left out)")


if __name__ == "__main__":
    main()
