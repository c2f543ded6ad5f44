"""One policy for the fakes of the generator step, shared by every adversarial variant.

``model.g_fakes`` (the same name and meaning in every variant that has a generator step):

- ``fresh`` (default): the generator update draws its own minibatch of z after the critic update,
  as every algorithm box does: Goodfellow et al. 2014, algorithm 1 ("sample minibatch of m noise
  samples" again before "update the generator"); WGAN (Arjovsky et al. 2017, algorithm 1, line 9)
  and WGAN-GP (Gulrajani et al. 2017, algorithm 1, line 11); BEGAN's separate z_D and z_G
  (Berthelot et al. 2017, eq. 4); EBGAN, GMAN and MAD-GAN (Ghosh et al. 2018, algorithm 1). The
  critic's fakes are then drawn without a graph, and the generator step draws as many z as the
  critic's last real batch had examples.
- ``reuse``: the generator update reuses the fakes of the critic's last batch, generated with a
  graph before the critic update and scored by the critic after it, as pytorch/examples' DCGAN
  (``main.py``: ``output = netD(fake)`` after ``optimizerD.step()``), carpedm20's BEGAN and
  compare_gan do; it saves one generator forward per step. The noise stream is then drawn in the
  order the variants used before this option existed, so runs recorded then reproduce bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gan_bench.config import Choice

G_FAKES = ("fresh", "reuse")


@dataclass
class GFakesOption:
    """The ``g_fakes`` option, inherited by the Options of every variant with a generator step."""

    g_fakes: str = field(default="fresh", metadata=Choice(*G_FAKES))
