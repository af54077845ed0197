"""``python -m sibsim.indigo build-snapshot SRC_DIR DEST_DIR``."""

from .snapshot import main

if __name__ == "__main__":
    raise SystemExit(main())
