"""Reports: leaderboards built from run directories, the static report site and the regression check.

- ``gan_bench.report.tidy``: the tidy per-seed table of runs (with provenance) and the wide mean/std view
  (``gan-bench leaderboard``); ``suite.json`` manifests of suite folders.
- ``gan_bench.report.site``: ``reports/index.html`` plus one page per suite sharing one plotly.js
  (``gan-bench report``).
- ``gan_bench.report.html``: one suite page (leaderboard, per-metric bars with per-seed points, published
  numbers beside ours, samples and curves of every run); self-contained when plotly.js is inlined.
- ``gan_bench.report.check``: runs against a baseline table within tolerances (``gan-bench check``).
"""
