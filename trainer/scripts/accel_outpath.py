"""Where the scripts beside this file may write, by accel-train's own rules
(util/outpath.h): an output never replaces a file the same command reads,
told apart by device and inode (another spelling, a symbolic link or a hard
link of an input is that input), and a file output never lands on what is
not a regular file (a directory, a device such as /dev/null, a FIFO, a
socket, or a link to one of those). The checks come before any work, so a
refusal leaves the disk as it was; replace() then writes a file whole or
not at all."""
import os
import stat
import tempfile


class Refused(Exception):
    """An output path a script must not write, said in one line."""


_KINDS = ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a directory"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"))


def _kind(mode):
    return next((name for test, name in _KINDS if test(mode)), "neither a file nor a directory")


def _look(path, inputs, advice):
    """path's stat through links (None when nothing is there, or a link to
    nothing); Refused when it is one of inputs, (path, what) pairs whose
    what is a noun phrase ("the checkpoint this export reads (ck.h5)")."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise Refused(f"{path}: {e.strerror}") from None
    for p, what in inputs:
        try:
            s = os.stat(p)
        except OSError:
            continue  # not there, or not to be seen: not read either
        if (s.st_dev, s.st_ino) == (st.st_dev, st.st_ino):
            raise Refused(f"{path}: is {what}; {advice}")
    return st


def check_file(path, inputs, advice="choose another output path"):
    """Refused unless a file may be written at path: nothing is there, or a
    regular file that is none of inputs; and its directory is there, told
    now rather than once the work is done."""
    st = _look(path, inputs, advice)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise Refused(f"{path}: not a regular file ({_kind(st.st_mode)}); {advice}")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise Refused(f"{path}: {folder} is not a directory; {advice}")


def check_dir(path, inputs, advice="choose another output directory"):
    """Refused unless a directory may be made or filled at path: nothing is
    there, or a directory that is none of inputs."""
    st = _look(path, inputs, advice)
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise Refused(f"{path}: not a directory ({_kind(st.st_mode)}); {advice}")


def replace(path, write):
    """Writes the file at path whole or not at all: write(tmp) fills a new
    temporary file beside it (made exclusively, with path's extension, so a
    writer that goes by it still does), which is flushed and renamed over
    path. A failure removes it and leaves path as it was."""
    folder, name = os.path.split(path)
    stem, ext = os.path.splitext(name)
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.tmp-", suffix=ext, dir=folder or ".")
    os.close(fd)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's is 0600; a new file's is this
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass  # gone already; the failure that brought us here is the news
        raise
