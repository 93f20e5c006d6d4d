"""Roots: many file roots in one directory, file roots across the ways
editors save, and roots that overlap."""

import os
import re

import vigiltest


def touch(path, data=b""):
    with open(path, "wb") as f:
        f.write(data)


# -- many file roots in one directory -----------------------------------------

def _many_file_roots(vigil, tmp, n):
    """vigil on n files of dir/ given one by one, plus s/ for sentinels."""
    d = tmp / "dir"
    d.mkdir()
    (tmp / "s").mkdir()
    names = ["f%03d.c" % i for i in range(n)]
    for name in names:
        (d / name).write_bytes(b"v1")
    (d / "other.c").write_bytes(b"not watched")
    v = vigil("watch", "--json", *["dir/" + name for name in names], "s",
              cwd=str(tmp))
    return v, d, names


def test_hundreds_of_file_roots_in_one_directory(vigil, tmp):
    v, d, names = _many_file_roots(vigil, tmp, 300)
    line = v.wait_ready()
    # dir/ is one directory however many of its files are roots, and s/.
    assert re.search(r"\bready, watching 2 directories\b", line), line
    for name in names:
        with open(str(d / name), "ab") as f:
            f.write(b"v2")
    with open(str(d / "other.c"), "ab") as f:
        f.write(b"!")
    evs = v.sync(str(tmp / "s"), "s")
    got = [(e["type"], e["path"]) for e in evs[:-1]]
    want = []
    for name in names:
        want += [("modified", "dir/" + name), ("closed", "dir/" + name)]
    assert got == want, (len(got), got[:6])
    for name in names:
        os.unlink(str(d / name))
    evs = v.sync(str(tmp / "s"), "s")
    assert [(e["type"], e["path"]) for e in evs[:-1]] == [
        ("removed", "dir/" + name) for name in names]
    assert v.running()
