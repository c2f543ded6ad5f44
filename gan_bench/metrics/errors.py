"""Errors of the image-metric harness.

Both are user errors: the CLI prints their message as one line and exits with code 2, so every
message must say what is wrong and how to fix it in a single sentence.
"""

from __future__ import annotations


class MetricsInputError(ValueError):
    """A bad metric input or option: an unreadable folder, a wrong array shape, a bad metric name."""


class WeightsMissingError(MetricsInputError):
    """A weight file is not present (and could not be downloaded); the message names the file,
    its sha256, its URL and the folder to put it in."""
