"""CI runs exactly the README's test command, then the regression gate."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _readme_test_command() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("Run the tests"):]
    return re.search(r"```bash\n(.+?)\n```", section, flags=re.S).group(1).strip()


def test_ci_runs_the_readme_test_command_verbatim_then_the_gate() -> None:
    command = _readme_test_command()
    assert "\n" not in command and command.endswith("python -m pytest")
    assert "tox" not in command  # tox is not on a fresh machine
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    lines = [line.strip() for line in ci.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert f"({command})" in lines  # in a subshell: a failing step (pytest exit 5 included) stops CI under set -e
    assert lines.index(f"({command})") < lines.index("bash .ci/gate")
    assert "set -euo pipefail" in lines


def test_gate_checks_the_baseline_and_that_a_broken_generator_fails() -> None:
    gate = (REPO / ".ci" / "gate").read_text(encoding="utf-8")
    assert "gan-bench suite baselines/ci.yaml" in gate
    assert "gan-bench check" in gate and "--baseline leaderboards/ci.csv" in gate
    assert "optim.g_lr=0" in gate and '"$code" -ne 1' in gate
    assert "gan-bench leaderboard" in gate and "-o leaderboards/ci.csv" in gate  # --update regenerates it
