"""The ``sibsim`` command line: a thin shell over the Python API.

Each command group lives in its own module with a ``register(subparsers)``
function; bad input exits with status 2 and a one-line message, never a
traceback.

Adding a command group: write ``sibsim/cli/<name>.py`` with ``register(sub)``
(adding its parsers, each with ``set_defaults(func=...)``) and append
``"<name>"`` to :data:`COMMANDS`. Every listed module is imported to build the
parser, so ``sibsim --help`` pays for its top-level imports: import numpy,
pandas, pydantic, scipy and sibsim's engine or scenario model inside the
command functions, never at module level (tests/test_startup.py checks).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import SibsimError, Terminated

COMMANDS = ["run", "sweep", "evidence", "report", "readiness", "portfolio", "voi"]  # modules in sibsim.cli, in help order
COMMANDS += ["monitor"]  # observe, reforecast (issue 11)


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors: exit 2 with usage
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The command line's parser. Given the arguments it will parse, it stops adding command groups once
    the command they name has its parser (argparse takes about 40 ms to build every group's); without
    them, or when they start with an option (``--help``) or name no command, it has every group."""
    from .. import __version__

    parser = ArgumentParser(prog="sibsim", description="Monte Carlo simulation of Social Impact Bonds and their alternatives.")
    parser.add_argument("--version", action="version", version=f"sibsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    wanted = argv[0] if argv and not argv[0].startswith("-") else None
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
        if wanted in sub.choices:
            break
    return parser


def fail(message: str) -> int:
    print(f"sibsim: error: {message}", file=sys.stderr)
    return 2


def _on_sigterm(signum, frame):
    raise Terminated()


def _one_line_warnings() -> None:
    """sibsim's own warnings print as ``sibsim: warning: ...`` (one line, no source line)."""
    import warnings

    from ..errors import SibsimWarning

    plain = warnings.formatwarning
    if getattr(plain, "sibsim", False):
        return

    def fmt(message, category, filename, lineno, line=None):
        if issubclass(category, SibsimWarning):
            return f"sibsim: warning: {message}\n"
        return plain(message, category, filename, lineno, line)

    fmt.sibsim = True
    warnings.formatwarning = fmt


def main(argv: list[str] | None = None) -> int:
    """Run one command. Bad input exits 2; Ctrl-C 130 and SIGTERM 143 (128 + the signal), each with one line."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    import signal
    import threading

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    _one_line_warnings()
    try:
        return args.func(args) or 0
    except SibsimError as err:
        return fail(str(err))
    except KeyboardInterrupt:
        print("sibsim: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("sibsim: terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:  # output piped into head and the like
        sys.stderr.close()
        return 0
    except (OSError, ValueError) as err:
        return fail(str(err))
    finally:
        if main_thread:  # called in-process (tests, notebooks): give the caller its handler back
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
