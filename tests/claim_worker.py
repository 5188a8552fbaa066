"""A worker for the claim tests: ``python -m tests.claim_worker RUN_DIR N_SAMPLES SLEEP [STALE]``.

Processes samples ``s0..s{N-1}`` through :func:`common.results.run_samples` with claims; each computation
appends ``<name> <pid>`` to ``RUN_DIR/computed.log`` (O_APPEND) and writes ``RUN_DIR/done/<name>``. Prints
``done claimed_elsewhere taken_over done_elsewhere`` of its :class:`common.results.BatchReport`.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from common.claims import ClaimBoard
from common.results import run_samples


def main() -> None:
    run_dir, count, sleep = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    stale = float(sys.argv[4]) if len(sys.argv) > 4 else 2.0
    names = [f"s{i}" for i in range(count)]
    (run_dir / "done").mkdir(parents=True, exist_ok=True)

    def process(name: str) -> None:
        with open(run_dir / "computed.log", "a") as log:
            log.write(f"{name} {os.getpid()}\n")
        time.sleep(sleep)
        (run_dir / "done" / name).write_text("ok")

    with ClaimBoard(run_dir, heartbeat_seconds=stale / 4, stale_seconds=stale) as board:
        report = run_samples(names, run_dir=run_dir, is_done=lambda n: (run_dir / "done" / n).exists(),
                             process=process, name_of=lambda n: n, progress=False, claims=board)
    print(report.done, report.claimed_elsewhere, report.taken_over, report.done_elsewhere)


if __name__ == "__main__":
    main()
