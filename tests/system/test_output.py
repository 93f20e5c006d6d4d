"""Output formats: --json, the default human lines, --format, --events."""

import json
import os
import re
import shutil
import signal
import stat

import pytest

import vigiltest
from vigiltest import fsbytes


def touch(path, data=b""):
    with open(path, "wb") as f:
        f.write(data)


def mknod(path):
    os.mknod(path, 0o644 | stat.S_IFREG)


# -- --json -------------------------------------------------------------------

def test_json_objects_for_each_kind(watched):
    def populate(r):
        touch(os.path.join(r, "old"), b"1")
        os.mkdir(os.path.join(r, "olddir"))
    s = watched(populate=populate)
    with open(s.p("old"), "ab") as f:
        f.write(b"2")
    os.chmod(s.p("old"), 0o600)
    os.rename(s.p("old"), s.p("new"))
    os.rename(s.p("olddir"), s.p("newdir"))
    os.mkdir(s.p("d"))
    mknod(s.p("d/f"))
    os.unlink(s.p("d/f"))
    os.rmdir(s.p("d"))
    evs = s.sync()
    want = [
        {"type": "modified", "path": s.p("old"), "dir": False},
        {"type": "closed", "path": s.p("old"), "dir": False},
        {"type": "attrib", "path": s.p("old"), "dir": False},
        {"type": "moved", "from": s.p("old"), "path": s.p("new"),
         "dir": False},
        {"type": "moved", "from": s.p("olddir"), "path": s.p("newdir"),
         "dir": True},
        {"type": "created", "path": s.p("d"), "dir": True},
        {"type": "created", "path": s.p("d/f"), "dir": False},
        {"type": "removed", "path": s.p("d/f"), "dir": False},
        {"type": "removed", "path": s.p("d"), "dir": True},
        {"type": "created", "path": s.p(".sentinel-1"), "dir": False},
    ]
    # d/f may be missed entirely if d was scanned after it was gone; its
    # created and removed then go together.
    if not any(e.get("path") == s.p("d/f") for e in evs):
        want = [w for w in want if w["path"] != s.p("d/f")]
    assert evs == want
    for line in s.v.lines:
        # Compact NDJSON: one object per line, nothing else.
        assert line.startswith(b"{") and line.endswith(b"}"), line


NAMES = [
    b"plain.txt",
    b"sp ace",
    b"quo\"te",
    b"back\\slash",
    b"new\nline",
    b"tab\there",
    b"ctl\x01\x1f",
    "unicod\u00e9-\u65e5\u672c-\U0001f600".encode("utf-8"),
    b"bad\xff\xfeutf8",
    b"half\xe2\x82",
    b"\xed\xa0\x80surrogate-bytes",
]


def test_json_paths_are_exact_bytes(watched):
    s = watched()
    broot = fsbytes(s.root)
    for n in NAMES:
        mknod(broot + b"/" + n)
    os.mkdir(broot + b"/dir\xff")
    mknod(broot + b"/dir\xff/in\xfe")
    evs = s.sync()
    got = [fsbytes(e["path"]) for e in evs if e["type"] == "created"]
    want = [broot + b"/" + n for n in NAMES] + [broot + b"/dir\xff"]
    for w in want:
        assert w in got, (w, got)
    # Every line is valid JSON in pure ASCII or UTF-8 (never raw bad bytes).
    for line in s.v.lines:
        line.decode("utf-8")
        json.loads(line)
    s.check()
    # Moves carry exact bytes in "from" too.
    os.rename(broot + b"/bad\xff\xfeutf8", broot + b"/moved\xfa")
    evs = s.sync()
    assert fsbytes(evs[0]["from"]) == broot + b"/bad\xff\xfeutf8"
    assert fsbytes(evs[0]["path"]) == broot + b"/moved\xfa"
    s.check()


def test_json_overflow_has_null_path(watched):
    if vigiltest.max_queued_events() > 200000:
        pytest.skip("max_queued_events too big")
    s = watched()
    s.v.send(signal.SIGSTOP)
    try:
        vigiltest.flood(s.root)
    finally:
        s.v.send(signal.SIGCONT)
    evs = s.sync_settled()
    ov = [e for e in evs if e["type"] == "overflow"]
    assert ov and all(e["path"] is None for e in ov), ov
    for line in s.v.lines:
        if b'"overflow"' in line:
            assert json.loads(line) == {"type": "overflow", "path": None,
                                        "dir": False}
    s.check()


# -- default human output -----------------------------------------------------

def test_human_lines(vigil, tmp):
    root = tmp / "w"
    root.mkdir()
    (root / "old").write_bytes(b"1")
    (root / "olddir").mkdir()
    v = vigil("watch", ".", cwd=str(root))
    v.wait_ready()
    with open(str(root / "old"), "ab") as f:
        f.write(b"2")
    os.chmod(str(root / "old"), 0o600)
    os.rename(str(root / "old"), str(root / "new"))
    os.rename(str(root / "olddir"), str(root / "newdir"))
    os.mkdir(str(root / "a"))
    mknod(str(root / "a" / "b.txt"))
    os.unlink(str(root / "new"))
    mknod(str(root / "end"))
    got = []
    while True:
        line = v.read_line()
        assert line is not None
        got.append(line.decode())
        if line.endswith(b"./end"):
            break
    assert got[:4] == [
        "modified ./old",
        "closed   ./old",
        "attrib   ./old",
        "moved    ./old -> ./new",
    ], got
    assert re.fullmatch(r"moved    \./olddir/? -> \./newdir/", got[4]), got
    assert got[5:] == [
        "created  ./a/",
        "created  ./a/b.txt",
        "removed  ./new",
        "created  ./end",
    ], got
    for line in v.lines:
        assert b"\x1b" not in line, "colour codes on a pipe: %r" % line


# -- --format -----------------------------------------------------------------

def _format_run(vigil, tmp, fmt, action, until):
    root = tmp / "w"
    root.mkdir(exist_ok=True)
    v = vigil("watch", "--format", fmt, ".", cwd=str(root))
    v.wait_ready()
    action(root)
    out = b""
    while until not in out:
        line = v.read_line()
        assert line is not None, out
        out += line + b"\n"
    return out


def test_format_placeholders(vigil, tmp):
    def act(root):
        os.mkdir(str(root / "d"))
        mknod(str(root / "f"))
        os.rename(str(root / "f"), str(root / "g"))
        mknod(str(root / "stop"))
    out = _format_run(vigil, tmp, "[%e|%p|%f|%d|%%]", act, b"stop")
    assert out.split(b"\n")[:-1] == [
        b"[created|./d||dir|%]",
        b"[created|./f||file|%]",
        b"[moved|./g|./f|file|%]",
        b"[created|./stop||file|%]",
    ], out


def test_format_time(vigil, tmp):
    out = _format_run(vigil, tmp, "%T|%e", lambda r: mknod(str(r / "x")),
                      b"created")
    t, kind = out.rstrip(b"\n").split(b"|")
    assert kind == b"created"
    assert t and b"%" not in t and re.search(rb"\d", t), out


def test_format_escapes(vigil, tmp):
    out = _format_run(vigil, tmp, r"%e\t%p\0\\", lambda r: mknod(str(r / "x")),
                      b"x")
    assert out == b"created\t./x\0\\\n", out


def test_format_newline_escape(vigil, tmp):
    root = tmp / "w"
    root.mkdir()
    v = vigil("watch", "--format", r"%e\n%p", ".", cwd=str(root))
    v.wait_ready()
    mknod(str(root / "x"))
    assert v.read_line() == b"created"
    assert v.read_line() == b"./x"


# -- --events -----------------------------------------------------------------

def test_events_filter_keeps_only_listed_kinds(vigil, tmp):
    root = tmp / "w"
    root.mkdir()
    (root / "pre").write_bytes(b"1")
    v = vigil("watch", "--json", "--events", "created,removed", str(root))
    v.wait_ready()
    replay = vigiltest.Replay(str(root), vigiltest.scan(str(root)))
    with open(str(root / "pre"), "ab") as f:
        f.write(b"2")
    os.chmod(str(root / "pre"), 0o600)
    os.mkdir(str(root / "d"))
    touch(str(root / "d" / "f"), b"x")
    os.unlink(str(root / "pre"))
    evs = v.sync(str(root), str(root))
    assert {e["type"] for e in evs} == {"created", "removed"}, evs
    replay.apply_all(evs)
    replay.check(vigiltest.scan(str(root)))


def test_events_filter_tree_is_kept(vigil, tmp):
    """Only removed is shown, but the tree is still tracked: a directory
    created and filled after start is removed child by child, under its old
    name when it is renamed (the rename's removed half) and under its new
    one when it is deleted."""
    root = tmp / "w"
    root.mkdir()
    v = vigil("watch", "--json", "--events", "removed", str(root))
    v.wait_ready()
    os.makedirs(str(root / "d" / "e"))
    touch(str(root / "d" / "e" / "f"), b"x")
    evs = v.sync(str(root), str(root), kind="removed")
    assert [e["path"] for e in evs] == [str(root / ".sentinel-1")], evs
    os.rename(str(root / "d"), str(root / "d2"))
    evs = v.sync(str(root), str(root), kind="removed")
    assert [e["path"] for e in evs] == [
        str(root / "d" / "e" / "f"), str(root / "d" / "e"), str(root / "d"),
        str(root / ".sentinel-2")], evs
    shutil.rmtree(str(root / "d2"))
    evs = v.sync(str(root), str(root), kind="removed")
    assert [(e["type"], e["path"]) for e in evs] == [
        ("removed", str(root / "d2" / "e" / "f")),
        ("removed", str(root / "d2" / "e")),
        ("removed", str(root / "d2")),
        ("removed", str(root / ".sentinel-3"))], evs


def test_events_moved_only(vigil, tmp):
    root = tmp / "w"
    root.mkdir()
    v = vigil("watch", "--json", "--events", "moved,created", str(root))
    v.wait_ready()
    touch(str(root / "a"), b"x")
    os.rename(str(root / "a"), str(root / "b"))
    evs = v.sync(str(root), str(root))
    assert [e["type"] for e in evs] == ["created", "moved", "created"], evs
