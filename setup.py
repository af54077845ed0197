"""Build the compiled participant pass (sibsim/_kernel.c); everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("sibsim._kernel", ["sibsim/_kernel.c"], extra_compile_args=["-O3", "-std=c99", "-march=native"])])
