"""Pass-rate benchmark reports over run directories (single runs or Hydra sweeps).

`python -m codereset.report SWEEP_OR_RUN_DIRS... --out DIR` writes `report.md`, a
self-contained `report.html`, `summary.json` and `figures/` comparing agents (GRPO, RRPO, SRPO,
...) across seeds: learning curves vs step and vs generated tokens with speed-ups, compute per
agent, reset and localization diagnostics, and the final evaluation. It only reads run
directories (see the "Run directory" contract); partial or killed runs are shown and named.

Modules: `runs` (find and load run directories), `stats` (mean ± SE, Wilson interval),
`aggregate` (curves, speed-ups, per-run summaries), `tables` (the numbers per agent),
`plots` (figures), `document` (Markdown/HTML rendering), `build` (assembles the report).
"""

from codereset.report.build import ReportConfig, ReportResult, build_report
from codereset.report.runs import Run, find_run_dirs, load_run, load_runs

__all__ = ["ReportConfig", "ReportResult", "build_report", "Run", "find_run_dirs", "load_run",
           "load_runs"]
