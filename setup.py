"""Build the compiled passes (sibsim/_kernel.c, sibsim/delivery/_queue.c); everything else is in pyproject.toml.

The extensions are optional: where they cannot be built (no C compiler, no
Python headers) the install goes on with a warning and sibsim runs the same
passes in plain numpy (sibsim/kernel_ref.py for the participant pass; the
delivery model's numpy path), with identical results, slower.

They are built for the compiler's default target (x86-64 baseline on x86-64),
not ``-march=native``: a wheel or shared install built on one CPU must run on
another. benchmarks/bench_kernel.py measures what that costs. ISO C99 (not
GNU C) also means no fused multiply-add contraction, so results match numpy's
arithmetic.
"""

import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

COMPILE_ARGS = ["-O3", "-std=c99"]


class OptionalBuildExt(build_ext):
    """build_ext that warns instead of failing: sibsim falls back to its numpy passes."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # no compiler at all (DistutilsPlatformError and kin)
            self._warn(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # compiler present but the build failed
            self._warn(exc)

    @staticmethod
    def _warn(exc):
        print(f"WARNING: a compiled pass of sibsim was not built ({type(exc).__name__}: {exc}); "
              "sibsim will use its numpy reference instead (same results, slower)", file=sys.stderr)


setup(ext_modules=[
    Extension("sibsim._kernel", ["sibsim/_kernel.c"], extra_compile_args=COMPILE_ARGS, optional=True),
    Extension("sibsim.delivery._queue", ["sibsim/delivery/_queue.c"], extra_compile_args=COMPILE_ARGS, optional=True),
], cmdclass={"build_ext": OptionalBuildExt})
