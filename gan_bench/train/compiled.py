"""``compile=true``: every net of a variant runs under ``torch.compile``.

Nets are compiled in place (:meth:`torch.nn.Module.compile`), so their ``state_dict`` keys, the
optimisers' parameters and the checkpoints stay exactly those of the eager run. The variant's
step itself (its optimiser updates, penalties, EMA) stays Python: the nets' forward and backward
graphs are where the time goes. Graph breaks and backend failures fall back to eager per frame
(dynamo's ``suppress_errors``); a step that fails outright (a net used under double backward, as
gradient penalties do, which compiled graphs do not support) is caught by the trainer, which
restores the state before the step and continues eagerly with a warning.
"""

from __future__ import annotations

import logging

import torch
import torch._dynamo
from torch import nn

log = logging.getLogger("gan_bench.train")


def compile_nets(nets: nn.ModuleDict) -> list[str]:
    """Compile each net in ``nets`` in place; returns the roles compiled."""
    torch._dynamo.config.suppress_errors = True  # a frame that cannot compile runs eagerly, with a warning
    for module in nets.values():
        module.compile()
    return list(nets.keys())


def uncompile_nets(nets: nn.ModuleDict) -> None:
    """Undo :func:`compile_nets`: the nets run eagerly again."""
    for module in nets.values():
        # nn.Module.compile stores the compiled call here; there is no public inverse.
        module._compiled_call_impl = None
