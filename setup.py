"""Build script for the optional C kernel; all other metadata lives in pyproject.toml.

The extension is optional: if it cannot be compiled (no compiler on this machine), the
install still succeeds and spectro uses its pure-numpy solver path (same answers, slower).
"""

import sys

from setuptools import Extension, setup

args = [] if sys.platform == "win32" else ["-O3"]
setup(ext_modules=[Extension("spectro._ext.lhkernel", ["spectro/_ext/lhkernel.c"], optional=True, extra_compile_args=args)])
