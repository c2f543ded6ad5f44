"""``gan-bench weights``: every weight file the metric harness can use, and whether it is present."""

from __future__ import annotations

import argparse
import json

NAME = "weights"
HELP = "list the weight files the metric harness uses, where they are, and what is missing"
DESCRIPTION = """\
List every weight file the metric harness can use: its key, file name, sha256, URL, what uses it,
and whether it is present (checked by sha256) in --weights-dir, $GAN_BENCH_WEIGHTS_DIR or the
torch hub cache (classifiers and LPIPS heads ship inside the packages). A missing file shows the
folder to put it in. Exit code 0 even when files are missing.

--make-standin KEY FILE writes random-init stand-in weights in the format of KEY (inception-fidelity:
torch-fidelity's .pth; inception-cleanfid: clean-fid's TorchScript) so the Inception paths run
offline end to end (`gan-bench metrics ... --inception-weights FILE`); their numbers are
meaningless outside tests and are recorded as non-official.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights-dir", metavar="DIR", help="folder searched first (as for `gan-bench metrics`)")
    parser.add_argument("--json", action="store_true", help="print the listing as JSON")
    parser.add_argument("--missing", action="store_true", help="list only the files that are not present")
    parser.add_argument(
        "--make-standin",
        nargs=2,
        metavar=("KEY", "FILE"),
        help="write stand-in weights for KEY (inception-fidelity or inception-cleanfid) to FILE",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the stand-in weights (default 0)")


def run(args: argparse.Namespace) -> int:
    from gan_bench.metrics import weights as W
    from gan_bench.metrics.errors import MetricsInputError

    if args.make_standin:
        from gan_bench.metrics.features import make_standin_cleanfid_inception, make_standin_fidelity_inception

        key, path = args.make_standin
        makers = {"inception-fidelity": make_standin_fidelity_inception, "inception-cleanfid": make_standin_cleanfid_inception}
        if key not in makers:
            raise MetricsInputError(f"no stand-in for {key!r}; choose one of: {', '.join(makers)}")
        digest = makers[key](path, args.seed)
        print(f"wrote stand-in {key} weights (seed {args.seed}) to {path}, sha256 {digest}")
        return 0

    rows = W.status(args.weights_dir)
    if args.missing:
        rows = [r for r in rows if not r["present"]]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        mark = "ok " if r["state"] == "ok" else ("-- " if not r["present"] else "?? ")
        print(f"{mark} {r['key']:28s} {r['file']:44s} {r['state']}")
        print(f"      sha256 {r['sha256']}  used by {r['used_by']}")
        if r["present"]:
            print(f"      at {r['path']}")
        else:
            where = r.get("detail") or f"put it in {r['path']}"
            print(f"      {where}" + (f"  (from {r['url']})" if r["url"] else ""))
    return 0
