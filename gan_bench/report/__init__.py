"""Reports: leaderboards built from run directories and the self-contained interactive HTML report.

``gan_bench.report.html.write_report`` renders one offline HTML file (plotly.js inlined) with the leaderboard,
per-metric bar charts, samples and loss curves for every variant x dataset, and published reference numbers
beside ours.
"""
