"""`make bench` at its quick sizes, end to end on SQLite, so that the benchmark scripts keep
working as the code they drive changes. The figures are not judged here, only that each one
was measured, beside its baseline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIGURES = [
    "CSV import (1,000 rows)",
    "list page p50",
    "list page p95",
    "board page p50",
    "board page p95",
    "report page p50",
    "report page p95",
    "scheduler pass p50 (5,000 steps waiting)",
    "scheduler pass p95 (5,000 steps waiting)",
    "sending (claim, send, record)",
    "placements verified, first checks",
]


def test_quick_benchmark_measures_every_figure_beside_its_baseline(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "all.py"),
            "--quick",
            "--postgres",
            "none",
            "--json",
            str(tmp_path / "rows.json"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads((tmp_path / "rows.json").read_text())
    figures = [row["figure"].partition(" (slowest")[0] for row in rows]
    assert figures == FIGURES
    for row in rows:
        assert row["engine"] == "SQLite"
        assert row["measured"] > 0, row
        assert row["baseline"] > 0, row
        assert row["baseline_what"], row
        assert row["ratio"] == row["measured"] / row["baseline"]
        assert row["target"], row
    table = result.stdout[result.stdout.index("figure ") :]
    for figure in FIGURES:
        assert figure in table
    assert "ratio = measured / baseline" in table
