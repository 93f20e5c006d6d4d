"""Fixtures for the tests of the Python binding.

Run on Debian's interpreter with the built package on the path:
    PYTHONPATH=build/python /usr/bin/python3 -m pytest -q python/tests
(ctest does exactly that), or after `pip install ./python` without
PYTHONPATH.
"""
import os
import pathlib
import shutil
import signal
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import vigil  # noqa: E402

import vigilpy  # noqa: E402

if os.path.dirname(os.path.dirname(vigil.__file__)) == os.path.dirname(HERE):
    raise ImportError("imported the vigil sources in python/ rather than a build; "
                      "set PYTHONPATH to build/python or install the package")


def pytest_configure(config):
    config.addinivalue_line("markers", "time_limit(seconds): fail the test if it runs longer")


@pytest.fixture(scope="session", autouse=True)
def _signal_pipe():
    """The module makes one pipe per process for signal wakeups, the first
    time the main thread blocks in it; make it before any test counts
    descriptors."""
    d = tempfile.mkdtemp()
    with vigil.Watcher(d) as w:
        w.read(0.001)
    shutil.rmtree(d)


class TestTimeLimit(Exception):
    pass


@pytest.fixture(autouse=True)
def _time_limit(request):
    """Every test has a bound (60 s unless marked); no plugin needed."""
    m = request.node.get_closest_marker("time_limit")
    limit = (m.args[0] if m else 60) * vigilpy.SCALE

    def expired(signum, frame):
        raise TestTimeLimit("test ran longer than %.0f s" % limit)

    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def tmp(tmp_path):
    """A fresh directory, removed when the test ends."""
    yield tmp_path
    shutil.rmtree(str(tmp_path), ignore_errors=True)


@pytest.fixture
def pubdir():
    """A fresh directory under /tmp with mode 0755, so that an unprivileged
    user can reach what is below it."""
    d = tempfile.mkdtemp(prefix="vigil-pytest-", dir="/tmp")
    os.chmod(d, 0o755)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def root(tmp):
    """An empty directory to watch, as a str."""
    d = tmp / "w"
    d.mkdir()
    return str(d)
