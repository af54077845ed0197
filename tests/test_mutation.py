"""The mutation check of the participant pass (tests/mutation/run.py): every deliberate bug must fail a test."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from sibsim import kernel

from helpers import ROOT


@pytest.mark.slow
@pytest.mark.skipif(kernel._compiled() is None, reason="the compiled participant pass is not built")
def test_every_kernel_mutant_fails_a_test():
    r = subprocess.run([sys.executable, str(ROOT / "tests" / "mutation" / "run.py"), "-j", "2"], cwd=ROOT,
                       capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SURVIVED" not in r.stdout
    n = len([ln for ln in r.stdout.splitlines() if " killed " in ln])
    assert n >= 12 and f"{n} of {n} mutants killed" in r.stdout, r.stdout


def test_every_mutation_target_is_in_the_source():
    """A mutation whose text is no longer in _kernel.c would test nothing: the runner refuses it, and so do we."""
    spec = importlib.util.spec_from_file_location("sibsim_mutation_run", ROOT / "tests" / "mutation" / "run.py")
    mutation = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mutation)
    src = (ROOT / "sibsim" / "_kernel.c").read_text()
    for name, (old, new, count) in mutation.MUTANTS.items():
        assert old in src, name
        assert mutation.mutate(src, old, new, count) != src, name
