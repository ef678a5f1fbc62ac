"""The text that accel-train's data.format = text reads, for the scripts
beside this file (text_shards.py, train_tokenizer.py): the files a spec names
and the cut between the training and the validation parts, as
data/filelist.c and data/dataset_text.c make them.

A spec's entries are files, directories (their regular files, not links,
not names starting with a dot, not subdirectories) and glob patterns (an
entry with *, ? or [); a file whose name (the part after the last /) matches
a pattern of `exclude` (comma-separated, fnmatch's rules) is left out. The
files are joined in the order of their paths' bytes (C's strcmp), a file
named twice read twice. The last val_fraction of the joined bytes is the
validation part: the cut is at len - int(len * val_fraction), and where
the text is tokenized (data.tokenizer, text_shards.py --tokenizer,
train_tokenizer.py) it moves back to the first byte of the UTF-8 character
it falls in, so neither part starts or ends in the middle of one."""

import fnmatch
import glob
import os
import stat


class TextError(Exception):
    """One line: what accel-train would refuse, or could not read."""


def _kind(mode):
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _excluded(path, patterns):
    name = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _listed(path, follow):
    """Whether a directory's or a glob's listing takes path (filelist.c's
    listed()): regular files yes, directories and (not following) links no,
    anything else refused."""
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError as e:
        raise TextError(f"cannot stat {path}: {e.strerror}")
    if stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode):
        return False
    if not stat.S_ISREG(st.st_mode):
        raise TextError(f"{path} is {_kind(st.st_mode)}, not a regular file: remove it, or leave "
                        "it out with the excludes")
    return True


def list_files(entries, exclude=""):
    """The files of the entries (a list, or one comma-separated spec),
    sorted by their paths' bytes, without the excluded names."""
    if isinstance(entries, str):
        entries = entries.split(",")
    patterns = [p for p in exclude.split(",") if p]
    paths = []
    for entry in (e for e in entries if e):
        if any(c in entry for c in "*?["):
            matches = glob.glob(entry)
            if not matches:
                raise TextError(f"no file matches {entry}")
            paths += [p for p in sorted(matches) if not _excluded(p, patterns) and _listed(p, True)]
            continue
        try:
            st = os.stat(entry)
        except OSError as e:
            raise TextError(f"cannot open {entry}: {e.strerror}")
        if stat.S_ISDIR(st.st_mode):
            for name in os.listdir(entry):
                p = f"{entry}/{name}"
                if not name.startswith(".") and not _excluded(name, patterns) and _listed(p, False):
                    paths.append(p)
        elif _excluded(entry, patterns):
            continue
        elif not stat.S_ISREG(st.st_mode):
            raise TextError(f"{entry} is {_kind(st.st_mode)}, not a regular file")
        else:
            paths.append(entry)
    if not paths:
        raise TextError(f"{','.join(entries)}: no text files (after the excludes)")
    return sorted(paths, key=os.fsencode)


def cut(n, val_fraction):
    """Where the training part of n bytes (or tokens) ends."""
    return n - int(n * val_fraction)


def cut_text(data, val_fraction):
    """Where the training part of the bytes ends when they are tokenized:
    cut()'s place, moved back over at most 3 continuation bytes (10xxxxxx)
    to the start of the character it falls in."""
    at = cut(len(data), val_fraction)
    for _ in range(3):
        if 0 < at < len(data) and data[at] & 0xC0 == 0x80:
            at -= 1
    return at


def decode(data, paths, first=0):
    """data (the joined files' bytes from offset `first` on) as a str; an
    invalid UTF-8 sequence raises TextError naming its file and offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        at = first + e.start
        for p in paths:
            size = os.path.getsize(p)
            if at < size:
                raise TextError(f"{p}: byte {at} is not UTF-8 ({e.reason}), which the tokenizers "
                                "package cannot read (data.tokenizer, in accel-train, takes any "
                                "bytes)")
            at -= size
        raise TextError(f"the text is not UTF-8 ({e.reason})")


def read(paths):
    """The files' bytes, joined."""
    chunks = []
    for p in paths:
        try:
            with open(p, "rb") as f:
                chunks.append(f.read())
        except OSError as e:
            raise TextError(f"cannot read {p}: {e.strerror}")
    return b"".join(chunks)
