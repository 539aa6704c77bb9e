"""Pass-rate benchmark reports over run directories (single runs or Hydra sweeps).

`python -m codereset.report SWEEP_OR_RUN_DIRS... --out DIR` writes `report.md`, a
self-contained `report.html`, `summary.json` and `figures/` comparing agents (GRPO, RRPO, SRPO,
...) across seeds: learning curves vs step and vs generated tokens with speed-ups, compute per
agent, reset and localization diagnostics, and the final evaluation. It only reads run
directories (see the "Run directory" contract); partial or killed runs are shown and named.

Modules: `runs` (find and load run directories; keys from `codereset.run.schema`), `stats` (mean ±
SE, Wilson interval), `speedup` (the speed-up rule: only where the baseline gained, against a
target between its start and final value, with bootstrap intervals over seeds), `aggregate`
(curves, the runs of a group as arrays), `comparison` (agents against the baseline, paired where
the runs are, and the per-agent block of summary.json), `tables` (the numbers per agent), `plots`
(figures), `document` (Markdown/HTML rendering), `build` (assembles the report).
"""

from codereset.report.build import ReportConfig, ReportResult, build_report
from codereset.report.runs import Run, find_run_dirs, load_run, load_runs

__all__ = ["ReportConfig", "ReportResult", "build_report", "Run", "find_run_dirs", "load_run",
           "load_runs"]
