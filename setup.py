"""Build the compiled passes (sibsim/_kernel.c, sibsim/delivery/_queue.c, sibsim/_normal.c); everything else is in pyproject.toml.

The extensions are optional: where they cannot be built (no C compiler, no
Python headers) the install goes on with a warning and sibsim runs the same
passes by their references (sibsim/kernel_ref.py, numpy, for the participant
pass; the SimPy model for the delivery pass), with identical results, slower.

They are built for the compiler's default target (x86-64 baseline on x86-64),
not ``-march=native``: a wheel or shared install built on one CPU must run on
another. benchmarks/bench_kernel.py measures what that costs: on an AMD
Zen 1 machine (native = znver1) the participant pass took 1.11-1.14x the
CPU time of the -march=native build, a whole run 1.07-1.10x. ISO C99 (not
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
            self._warn("participant and delivery passes were", exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # compiler present but the build failed
            self._warn(f"{PASSES.get(ext.name, ext.name)} was", exc)

    @staticmethod
    def _warn(what, exc):
        print(f"WARNING: sibsim's compiled {what} not built ({type(exc).__name__}: {exc}); "
              "sibsim will use its reference instead (same results, slower)", file=sys.stderr)


PASSES = {"sibsim._kernel": "participant pass", "sibsim.delivery._queue": "delivery pass",
          "sibsim._normal": "normal quantile (scipy.special.ndtri is used instead)"}


setup(ext_modules=[
    Extension("sibsim._kernel", ["sibsim/_kernel.c"], extra_compile_args=COMPILE_ARGS, optional=True),
    Extension("sibsim.delivery._queue", ["sibsim/delivery/_queue.c"], extra_compile_args=COMPILE_ARGS, optional=True),
    Extension("sibsim._normal", ["sibsim/_normal.c"], extra_compile_args=COMPILE_ARGS, optional=True),
], cmdclass={"build_ext": OptionalBuildExt})
