"""Builds the vigil extension from a checkout of the vigil repository.

The C library is compiled into the extension from ../src, so nothing has
to be built or installed first:

    pip install --no-build-isolation ./python

The list of library sources is read from the top-level CMakeLists.txt
(VIGIL_SOURCES), so the two builds cannot drift apart.
"""
import os
import re
import sys

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)


def rel(*parts):
    """A path relative to this directory, as setuptools wants them."""
    return os.path.relpath(os.path.join(TOP, *parts), HERE)


def library_sources():
    with open(os.path.join(TOP, "CMakeLists.txt"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"set\(VIGIL_SOURCES\s+([^)]*)\)", text)
    if not m:
        raise RuntimeError("VIGIL_SOURCES not found in CMakeLists.txt")
    # The platform layer CMake picks (VIGIL_PLATFORM): Linux's own, or POSIX's.
    platform = "linux" if sys.platform.startswith("linux") else "posix"
    return [rel(*s.replace("${VIGIL_PLATFORM}", platform).split("/")) for s in m.group(1).split()]


def version():
    with open(os.path.join(TOP, "include", "vigil.h"), encoding="utf-8") as f:
        m = re.search(r'#define VIGIL_VERSION_STRING "([^"]+)"', f.read())
    return m.group(1)


if not os.path.exists(os.path.join(TOP, "src", "vigil.c")):
    raise SystemExit("setup.py builds from a vigil checkout: ../src is missing")

ext = Extension(
    "vigil._vigil",
    sources=["src/vigilmodule.c"] + library_sources(),
    include_dirs=[rel("include"), rel("src")],
    define_macros=[("_GNU_SOURCE", None)],
    extra_compile_args=["-std=c11", "-fvisibility=hidden", "-Wno-missing-field-initializers"],
    libraries=["pthread"],
)

setup(
    name="vigil",
    version=version(),
    description="Report file-system changes, exactly: the Python binding of libvigil",
    packages=["vigil", "vigil.observers"],
    ext_modules=[ext],
    python_requires=">=3.8",
)
