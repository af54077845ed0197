"""Start-up (issue 15 item 2): the command line's help and argument errors load nothing heavy.

Checked by the modules loaded (sys.modules), never by time.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import ROOT

HEAVY = ("scipy", "pydantic", "pandas", "simpy", "sibsim.spec", "sibsim.engine", "sibsim.dists")


def _loaded(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _heavy(mods: list[str]) -> list[str]:
    return [m for m in mods if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_import_sibsim_and_the_cli_load_nothing_heavy():
    mods = _loaded("import sibsim, sibsim.cli\nsibsim.cli.build_parser()")
    assert _heavy(mods) == []
    assert "numpy" not in mods


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["run"], ["run", "x.yaml", "--trials", "many"],
                                  ["nosuchcommand"]])
def test_help_and_argument_errors_load_nothing_heavy(argv):
    code = ("import sys, sibsim.cli\n"
            f"sys.argv = ['sibsim', *{argv!r}]\n"
            "try:\n    sibsim.cli.main()\nexcept SystemExit:\n    pass")
    mods = _loaded(code)
    assert _heavy(mods) == [], argv


def _commands(parser) -> dict:
    import argparse

    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_a_parser_built_for_one_command_parses_as_the_whole_one():
    # main() builds only the command groups up to the one its arguments name (argparse takes ~40 ms for all)
    from sibsim.cli import build_parser

    whole = _commands(build_parser())
    assert {"run", "sweep", "sensitivity", "evidence", "voi", "reforecast", "observe"} <= set(whole)
    built = set()
    for name, sub in whole.items():
        lean = _commands(build_parser([name, "--whatever"]))
        built.add(len(lean))
        assert lean[name].format_help() == sub.format_help(), name
    assert min(built) < len(whole)  # a command of the first group does not build them all
    for argv in (None, [], ["--help"], ["-h", "run"], ["nosuchcommand"]):  # these list every command
        assert _commands(build_parser(argv)).keys() == whole.keys(), argv


def test_an_unknown_command_lists_every_command(capsys):
    from sibsim.cli import main

    with pytest.raises(SystemExit) as e:
        main(["nosuchcommand"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "invalid choice: 'nosuchcommand'" in err
    assert all(f"'{c}'" in err for c in ("run", "voi", "reforecast", "observe", "evidence"))


def test_lazy_names_still_work():
    import sibsim

    assert callable(sibsim.load) and callable(sibsim.simulate)
    assert sibsim.spec.to_dict is not None  # submodules load on first use
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        sibsim.nosuch  # noqa: B018


def test_loading_a_scenario_does_not_import_scipy():
    mods = _loaded(f"import sibsim\nsibsim.load({str(ROOT / 'scenarios' / 'benchmark.yaml')!r})")
    assert not [m for m in mods if m.startswith("scipy")]


def test_written_out_table_ends_equal_scipy():
    from scipy import special

    from sibsim import dists

    assert dists._Z_ENDS == (float(special.ndtri(dists._TAIL)), float(special.ndtri(1 - dists._TAIL)))


def test_the_scalar_normal_cdf_used_when_loading_matches_scipy():
    import numpy as np
    from scipy import special

    from sibsim.spec.uses import _ndtr

    z = np.linspace(-37.0, 8.0, 4_501)
    got = np.array([_ndtr(float(x)) for x in z])
    np.testing.assert_allclose(got, special.ndtr(z), rtol=1e-9, atol=0)


@pytest.mark.parametrize("env, scanned", [(None, False), ("", True)])
def test_the_command_does_not_look_for_pydantic_plugins(env, scanned):
    """The ``sibsim`` command sets PYDANTIC_DISABLE_PLUGINS unless the user has: pydantic then skips its
    scan of every installed package's entry points when the scenario model is built."""
    import os

    code = ("import sys, runpy\n"
            f"sys.argv = ['sibsim', 'run', {str(ROOT / 'scenarios' / 'benchmark.yaml')!r}, '--trials', '1', '-q']\n"
            "try:\n    runpy.run_module('sibsim', run_name='__main__')\nexcept SystemExit as e:\n    assert e.code == 0\n"
            "from pydantic.plugin import _loader\nprint(_loader._plugins is not None)")
    environ = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    if env is not None:
        environ["PYDANTIC_DISABLE_PLUGINS"] = env
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environ)
    assert out.stdout.strip().splitlines()[-1] == str(scanned)
