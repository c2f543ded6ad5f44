"""How fast a run trains: images per second, model FLOPs per step and model FLOPs utilisation.

FLOPs are counted, not estimated: the first steps a process takes run under a dispatch mode that
adds up, with PyTorch's own formulas (``torch.utils.flop_counter.flop_registry``), the FLOPs of
every matmul and convolution the step executes (forward, backward, penalties' double backward,
every critic step). PyTorch's ``FlopCounterMode`` is not used because its per-module tracking
breaks ``autograd.grad`` with respect to a leaf (gradient penalties).
MFU is the achieved model FLOP rate (over wall-clock training seconds) over the device's peak: a
datasheet number for known GPUs (dense bf16 under ``amp``, TF32 otherwise), ``GAN_BENCH_PEAK_TFLOPS``
when the user sets it, and on a CPU the rate of a large matmul measured on the spot with the run's
threads and dtype, timed in CPU seconds so that other processes do not lower the peak. A CPU MFU
thus says how close the step comes to the machine's own matmul speed, and a run slowed by other
processes on its cores shows a lower MFU.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

# Dense peak TFLOP/s (bf16, tf32) from the vendors' datasheets (SXM parts; no sparsity).
GPU_PEAKS = {
    "H200": (989.4, 494.7),
    "H100": (989.4, 494.7),
    "A100": (312.0, 156.0),
    "L40S": (362.1, 183.0),
    "A10G": (70.0, 35.0),
    "L4": (121.0, 60.0),
    "RTX 4090": (165.2, 82.6),
    "RTX 3090": (71.0, 35.6),
    "V100": (125.0, 15.7),  # no bf16: its fp16 tensor-core peak and fp32 peak
    "T4": (65.0, 8.1),
}


def _conv_backward_flops(grad_out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, *args: Any) -> int:
    """FLOPs of a convolution's backward: one forward's worth for the input's gradient and one for
    the weight's, as ``output_mask`` asks. (PyTorch's own formula ignores ``groups`` and counts a
    grouped convolution's backward several times over: StyleGAN2's modulated convolutions.)"""
    transposed, output_mask = args[4], args[7]
    positions = math.prod(x.shape[2:]) if transposed else math.prod(grad_out.shape[2:])
    forward = 2 * x.shape[0] * positions * math.prod(weight.shape)  # weight: [out, in/groups, *k]
    return forward * (int(bool(output_mask[0])) + int(bool(output_mask[1])))


class _FlopCount(TorchDispatchMode):
    """Adds up the FLOPs of every op PyTorch has a formula for, as the ops run."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        packet = func._overloadpacket
        if packet is torch.ops.aten.convolution_backward:
            self.total += _conv_backward_flops(*args)
        elif (formula := flop_registry.get(packet)) is not None:
            self.total += int(formula(*args, **kwargs, out_val=out))
        return out


def count_flops(fn: Callable[[], Any]) -> tuple[Any, int]:
    """Run ``fn`` once, counting the FLOPs of the matmuls and convolutions it executes."""
    counter = _FlopCount()
    with counter:
        result = fn()
    return result, counter.total


def _measured_matmul_tflops(dtype: torch.dtype, size: int = 1024, trials: int = 5) -> float:
    """A CPU's matmul peak with the process's threads: the best of a few 1024^2 matmuls, each timed
    in process CPU seconds (so other processes sharing the cores do not lower it) and scaled by the
    thread count (the rate with every thread on a core of its own)."""
    a = torch.randn(size, size, dtype=dtype)
    b = torch.randn(size, size, dtype=dtype)
    torch.mm(a, b)  # warm-up
    best = 0.0
    for _ in range(trials):
        start = time.process_time()
        torch.mm(a, b)
        cpu_seconds = max(time.process_time() - start, 1e-9)
        best = max(best, 2 * size**3 / cpu_seconds * torch.get_num_threads() / 1e12)
    return best


def peak_tflops(device: torch.device, amp: bool) -> tuple[float, str]:
    """The device's peak TFLOP/s for the run's precision, and where the number comes from."""
    env = os.environ.get("GAN_BENCH_PEAK_TFLOPS", "").strip()
    if env:
        try:
            return float(env), "GAN_BENCH_PEAK_TFLOPS"
        except ValueError:
            pass
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, (bf16, tf32) in GPU_PEAKS.items():
            if key in name:
                return (bf16 if amp else tf32), f"datasheet {name}, dense {'bf16' if amp else 'tf32'}"
        return float("nan"), f"unknown GPU {name} (set GAN_BENCH_PEAK_TFLOPS)"
    dtype = torch.bfloat16 if amp else torch.float32
    value = _measured_matmul_tflops(dtype)
    return value, (f"measured cpu 1024x1024 {str(dtype).removeprefix('torch.')} matmul, "
                   f"{torch.get_num_threads()} threads, in CPU seconds")


@dataclass
class Speed:
    """A run's training speed, written to ``summary.json`` under ``speed``."""

    images_per_s: float
    steps_per_s: float
    flops_per_step: int  # the mean over the steps counted in this process (0 when none was)
    tflops_per_s: float  # achieved model TFLOP/s
    peak_tflops: float
    peak_source: str
    mfu: float | None  # achieved / peak (None when the peak or the FLOPs are unknown)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def speed_of(images: int, steps: int, seconds: float, flops_per_step: int, peak: tuple[float, str]) -> Speed:
    """Throughput over a run's training seconds (evaluation excluded)."""
    seconds = max(seconds, 1e-12)
    steps_per_s = steps / seconds
    achieved = flops_per_step * steps_per_s / 1e12
    known = bool(flops_per_step) and peak[0] == peak[0] and peak[0] > 0  # peak is nan when unknown
    mfu = achieved / peak[0] if known else None
    return Speed(images_per_s=images / seconds, steps_per_s=steps_per_s, flops_per_step=flops_per_step,
                 tflops_per_s=achieved, peak_tflops=peak[0], peak_source=peak[1], mfu=mfu)
