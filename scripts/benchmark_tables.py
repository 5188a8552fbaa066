"""The result files of a benchmark script: ``<stem>.md`` (the printed table) and ``<stem>.csv`` (raw numbers).

A library module for the ``scripts.benchmark_*`` entry modules (``scripts.benchmark_la`` uses it); torch-free.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common.results import atomic_write


def write_table_files(out_dir: str | Path, stem: str, markdown: str, rows: Sequence[dict[str, Any]],
                      columns: Sequence[str]) -> tuple[Path, Path]:
    """Write ``markdown`` to ``<out_dir>/<stem>.md`` and ``rows`` (one dict per row, keys ``columns``) to
    ``<out_dir>/<stem>.csv`` (header line, then one line per row, ``\\r\\n`` line ends as :mod:`csv` writes
    them); each file through a temp file + rename. Returns the two paths."""
    folder = Path(out_dir)
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=list(columns))
    writer.writeheader()
    writer.writerows(rows)
    paths = folder / f"{stem}.md", folder / f"{stem}.csv"
    for path, text in zip(paths, (markdown, table.getvalue())):
        atomic_write(path, lambda handle, text=text: handle.write(text.encode()), "wb")
    return paths
