"""Without the compiled delivery pass (no C compiler at install) the delivery model runs on its SimPy reference,
with one notice; asking for the compiled pass then is a clear error."""

from __future__ import annotations

import pytest

from sibsim.delivery import run as drun
from sibsim.errors import UsageError


def test_missing_delivery_pass_falls_back_to_simpy_with_one_notice(monkeypatch, capsys):
    monkeypatch.setattr(drun, "fast_available", lambda: False)
    monkeypatch.setattr(drun, "_NOTICE_SHOWN", False)
    monkeypatch.delenv(drun.ENV, raising=False)
    assert drun.engine_choice(None) == "simpy" and drun.engine_choice(None) == "simpy"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "SimPy reference" in err
    monkeypatch.setenv(drun.ENV, "fast")
    with pytest.raises(UsageError, match="was not built"):
        drun.engine_choice(None)


def test_the_built_pass_is_the_default(monkeypatch):
    monkeypatch.delenv(drun.ENV, raising=False)
    assert drun.fast_available()  # make test builds it
    assert drun.engine_choice(None) == "fast"
