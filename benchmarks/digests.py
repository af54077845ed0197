"""Digests of per-trial CSVs, for issue 15's rule that speed work changes no number.

    .venv/bin/python benchmarks/digests.py record before.json   # on the commit before a speed change
    .venv/bin/python benchmarks/digests.py check before.json    # after it: exit 1 if any CSV differs

Every shipped scenario without a ``delivery`` section is run as a user runs it (``sibsim run --csv``) with
two seeds and two chunk sizes, on one process and on two, with every finance model; the SHA-256 of each
per-trial CSV is recorded. ``check`` recomputes them and lists every difference.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = [  # (trials, seed, chunk, workers)
    (3000, 1, 1000, 1),
    (2500, 7, 600, 2),
]


def scenarios() -> list[Path]:
    out = []
    for p in sorted((ROOT / "scenarios").glob("*.yaml")):
        if not any(line.startswith("delivery:") for line in p.read_text().splitlines()):
            out.append(p)
    return out


def digests() -> dict[str, str]:
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        for sc in scenarios():
            for trials, seed, chunk, workers in CASES:
                csv = Path(tmp) / "t.csv"
                argv = [sys.executable, "-m", "sibsim", "run", str(sc), "--trials", str(trials), "--seed", str(seed),
                        "--chunk", str(chunk), "--workers", str(workers), "--finance", "sib,pbr,fee,hybrid",
                        "--csv", str(csv), "-q"]
                r = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
                key = f"{sc.name} trials={trials} seed={seed} chunk={chunk} workers={workers}"
                if r.returncode != 0:
                    result[key] = "error: " + r.stderr.strip().splitlines()[-1]
                else:
                    result[key] = hashlib.sha256(csv.read_bytes()).hexdigest()
                print(f"{key}: {result[key][:16]}", file=sys.stderr)
    return result


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("record", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    path = Path(argv[1])
    now = digests()
    if argv[0] == "record":
        path.write_text(json.dumps(now, indent=1) + "\n")
        return 0
    before = json.loads(path.read_text())
    bad = [k for k in sorted(set(before) | set(now)) if before.get(k) != now.get(k)]
    for k in bad:
        print(f"DIFFERS {k}: {before.get(k, 'absent')[:16]} -> {now.get(k, 'absent')[:16]}")
    print(f"{len(now) - len(bad)} of {len(set(before) | set(now))} per-trial CSVs identical")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
