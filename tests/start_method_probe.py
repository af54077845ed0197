"""Run by tests/test_start_method.py in a fresh process: start workers three ways (the engine's pool, a
sweep's pool, a Dask LocalCluster), with or without another thread running beside the main one, and
print how each worker was started (a forked worker's command line is this process's, a spawned one's runs
``spawn_main``), whether it ignores SIGINT and blocks SIGINT or SIGTERM, and whether the results equal
those of one process."""

import json
import sys
import threading
from pathlib import Path

import psutil

BENCH = Path(__file__).resolve().parents[1] / "scenarios" / "benchmark.yaml"


def mask(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith(field + ":")), 16)


def how(pid: int) -> dict:
    cmd = " ".join(psutil.Process(pid).cmdline())
    return {"method": "spawn" if "spawn_main" in cmd else "fork",
            "ignores_sigint": bool(mask(pid, "SigIgn") & (1 << 1)),
            "blocked": bool(mask(pid, "SigBlk") & ((1 << 1) | (1 << 14)))}  # SIGINT, SIGTERM


def workers_now() -> list[dict]:
    kids = [c for c in psutil.Process().children() if "resource_tracker" not in " ".join(c.cmdline())]
    return [how(c.pid) for c in kids]


def main(threaded: bool) -> dict:
    import sibsim
    from sibsim import dispatch
    from sibsim.sweep import grid, sweep

    if threaded:  # another thread beside the main one (a notebook's kernel, a browser driver)
        threading.Thread(target=threading.Event().wait, daemon=True).start()
    sc = sibsim.load(BENCH)
    out = {}
    seen = []
    run = sibsim.simulate(sc, trials=3000, seed=5, chunk=1000, workers=2,
                          progress=lambda done, total: seen.extend(workers_now()))
    alone = sibsim.simulate(sc, trials=3000, seed=5)
    out["engine"] = {"workers": seen, "same": bool((run.metrics["outcome_payments"]
                                                    == alone.metrics["outcome_payments"]).all())}
    pts = grid(job_entry_uplift=[0.0, 0.1, 0.2])
    one = sweep(sc, pts, trials=1000, seed=7)
    seen = []
    two = sweep(sc, pts, trials=1000, seed=7, workers=2, callback=lambda row: seen.extend(workers_now()))
    out["sweep"] = {"workers": seen, "same": bool(one.equals(two))}
    client, closers = dispatch.client("local", 2)
    try:
        out["dask"] = {"workers": [how(n.pid) for n in closers[-1].workers.values()],
                       "same": bool(one.equals(sweep(sc, pts, trials=1000, seed=7, scheduler=client)))}
    finally:
        for c in closers:
            c.close()
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] == "threaded")))
