"""``python -m sibsim`` and the ``sibsim`` command: run one command (:func:`sibsim.cli.main`), then end the process."""

import os
import sys


def run() -> None:
    # pydantic looks for plugins in every installed package's metadata when the scenario model is built
    # (20-70 ms of a 1-trial run); the command uses none. PYDANTIC_DISABLE_PLUGINS set by the user wins
    # ("" loads them all).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from .cli import main

    rc = main()
    # The process ends here. Moving every object to the permanent generation spares the interpreter's final
    # collections a walk over every loaded module's objects (a few tenths of a second with pandas, scipy and
    # Dask loaded: serial time at the end of every parallel sweep). atexit handlers still run, the standard
    # streams are still flushed; sibsim closes its own files before this point.
    import gc

    gc.freeze()
    sys.exit(rc)


if __name__ == "__main__":
    run()
