"""Build the compiled passes (sibsim/_kernel.c, sibsim/delivery/_queue.c); everything else is in pyproject.toml."""

from setuptools import Extension, setup

FLAGS = ["-O3", "-std=c99", "-march=native"]  # ISO C99: no fused multiply-add, so results match numpy's arithmetic

setup(ext_modules=[
    Extension("sibsim._kernel", ["sibsim/_kernel.c"], extra_compile_args=FLAGS),
    Extension("sibsim.delivery._queue", ["sibsim/delivery/_queue.c"], extra_compile_args=FLAGS),
])
