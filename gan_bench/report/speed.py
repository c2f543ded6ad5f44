"""The report's speed table: what each run's training cost, measured where it ran.

Reads the ``speed`` record the trainer writes to ``summary.json`` (images per second over the
training seconds, FLOPs counted on the first 16 steps, MFU against the device's peak and where that peak
comes from); runs written before the record existed are listed as not measured."""

from __future__ import annotations

from typing import Any

from gan_bench.report._format import esc, fmt_num, html_table, to_float
from gan_bench.report._runs import RunData


def _precision(speed: dict[str, Any]) -> str:
    parts = ["bf16 autocast" if speed.get("amp") else "fp32"]
    if speed.get("channels_last"):
        parts.append("channels-last")
    compiled = str(speed.get("compile", "off"))
    parts.append("eager" if compiled == "off" else "compiled" if compiled == "on" else f"eager ({compiled})")
    return ", ".join(parts)


def section_speed(runs: list[RunData]) -> str:
    """One row per run: device, precision, images/s, counted GFLOP per image, TFLOP/s and MFU."""
    header = ["entry", "dataset", "seed", "device", "precision / compile", "images/s", "GFLOP per image",
              "achieved TFLOP/s", "peak TFLOP/s", "MFU", "peak from"]
    rows = []
    unmeasured = 0
    for run in sorted(runs, key=lambda r: (str(r.variant), str(r.dataset), r.seed_label)):
        speed = (run.summary or {}).get("speed")
        if not isinstance(speed, dict):
            unmeasured += 1
            continue
        consumed = (run.summary or {}).get("consumed") or {}
        steps, images = to_float(consumed.get("steps")), to_float(consumed.get("images"))
        flops = to_float(speed.get("flops_per_step"))
        per_image = flops * steps / images / 1e9 if flops and steps and images else None
        mfu = to_float(speed.get("mfu"))
        rows.append([esc(run.variant), esc(run.dataset), esc(run.seed_label), esc(speed.get("device", "?")),
                     esc(_precision(speed)), fmt_num(to_float(speed.get("images_per_s")), 4), fmt_num(per_image, 3),
                     fmt_num(to_float(speed.get("tflops_per_s")), 3), fmt_num(to_float(speed.get("peak_tflops")), 3),
                     "—" if mfu is None else f"{100 * mfu:.2f}%", esc(speed.get("peak_source", "?"))])
    if not rows:
        return "<p>No run of this suite recorded its speed (runs trained before gan_bench logged it).</p>"
    intro = ("<p>Training speed of each run where it ran: images per second over its training seconds "
             "(evaluation excluded, a compiled run's compilation included); FLOPs counted on the first 16 training "
             "steps, averaged (matmuls and convolutions of the forward, backward and penalty passes) and divided by the "
             "images that step consumed; MFU is the achieved model FLOP rate over the device's peak: the "
             "datasheet's dense number on a known GPU, on a CPU a 1024x1024 matmul measured in the run's "
             "process in CPU seconds (so a CPU's MFU is relative to its own matmul speed, and a run slowed by "
             "other processes on its cores shows a lower MFU). Compare rows of one suite pass only.</p>")
    note = f"<p>{unmeasured} runs trained before speed was recorded are not listed.</p>" if unmeasured else ""
    return intro + f'<div class="scroll">{html_table(header, rows, table_class="data small")}</div>' + note
