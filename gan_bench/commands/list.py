"""``gan-bench list``: what is registered."""

from __future__ import annotations

import argparse
import json

NAME = "list"
HELP = "list registered variants, architectures, datasets and metrics"
DESCRIPTION = """List everything registered: variants, architectures, datasets and metrics.

With --json prints {"variants": [...], "architectures": [...], "datasets": [...], "metrics": [...],
"planned": [...]}, where "planned" names the variants registered under their final names whose
implementation has not landed yet (building one exits with code 2)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def run(args: argparse.Namespace) -> int:
    from gan_bench.registry import ARCHITECTURES, DATASETS, METRICS, VARIANTS

    listing = {
        "variants": VARIANTS.names(),
        "architectures": ARCHITECTURES.names(),
        "datasets": DATASETS.names(),
        "metrics": METRICS.names(),
        "planned": [e.name for e in VARIANTS if e.meta.get("planned")],
    }
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    for title, registry in (("variants", VARIANTS), ("architectures", ARCHITECTURES),
                            ("datasets", DATASETS), ("metrics", METRICS)):
        print(f"{title}:")
        for entry in registry:
            doc = entry.meta.get("description") or (entry.obj.__doc__ or "").strip().splitlines()[0:1]
            doc = doc if isinstance(doc, str) else (doc[0] if doc else "")
            tag = " [planned]" if entry.meta.get("planned") else ""
            print(f"  {entry.name:<16}{tag} {doc}")
    return 0
