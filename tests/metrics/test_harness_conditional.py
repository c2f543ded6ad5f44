"""`gan-bench metrics` on class-conditional samples: class accuracy, intra-class FID/KID and LPIPS
per class of a trained cgan run (equal to the trainer's scores of the same samples), real labelled
images as a perfect generator, and the one-line errors for inputs without labels."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from metrics_helpers import mnist

from gan_bench.cli import main
from gan_bench.data.base import load_dataset
from gan_bench.metrics.conditional import (
    class_accuracy,
    classify,
    evaluate_conditional,
    intra_class_fid,
    intra_class_kid,
)
from gan_bench.metrics.features import ClassifierFeatures
from gan_bench.metrics.inputs import ArrayInput, float_to_uint8, resolve_input
from gan_bench.metrics.lpips_diversity import build_lpips, class_diversity, to_lpips_input
from gan_bench.metrics.training_eval import _extractor, _features
from gan_bench.train.runs import open_run
from gan_bench.variants.base import Sample

P = "mnist-classifier"
TINY = ["net.width=8", "data.num_examples=512", "batch_size=32", "eval.num_samples=100", "--no-progress"]
LPIPS_SEED = 7  # random LPIPS trunk: the ImageNet trunks are not on this machine
# lpips itself asks torchvision for `pretrained=False` nets, which torchvision flags as deprecated
pytestmark = pytest.mark.filterwarnings("ignore:.*(pretrained|weight enum).*:UserWarning")


def train(out, variant: str, steps: int, *extra: str):
    argv = ["train", "--variant", variant, "--dataset", "mnist", "--budget", f"{steps}steps", "--seed", "0",
            "--out", str(out), *TINY, *extra]
    assert main(argv) == 0
    return out


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    # 200 steps at a high learning rate, so that the classifier's predictions vary with the label:
    # after a few steps every sample looks like one digit, and any labelling then scores 0.1.
    return train(tmp_path_factory.mktemp("cgan") / "run", "cgan", 200, "optim.g_lr=0.002", "optim.d_lr=0.002")


@pytest.fixture(scope="module")
def run_samples(cgan_run) -> Sample:
    """The 200 samples `gan-bench metrics --num 200 --seed 0` draws, with their labels."""
    return Sample.cat(open_run(cgan_run).samples(200, seed=0)).cpu()


def metrics_json(capsys, *argv: str) -> dict:
    assert main(["metrics", *argv, "--json", "--no-cache"]) == 0
    return json.loads(capsys.readouterr().out)


def one_line_error(capsys, *argv: str) -> str:
    assert main(["metrics", *argv, "--no-cache"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_run_scores_are_the_trainers_on_the_same_samples(cgan_run, run_samples, capsys):
    out = metrics_json(capsys, str(cgan_run), "mnist:test", "--metrics", "class_acc,fid_intra,kid_intra",
                       "--protocol", P, "--num", "200")
    for key in ("class_acc", "fid_intra", "kid_intra"):
        assert isinstance(out[key], float) and math.isfinite(out[key])
        assert out["protocol"]["columns"][key] == f"{key}[{P}]"
    assert out["protocol"]["inputs"]["input1"]["labelled"] is True
    assert out["protocol"]["metrics"]["fid_intra"]["input1"] == [20] * 10  # class-balanced samples

    sample = run_samples
    assert torch.equal(sample.y, torch.arange(200) % 10)
    feats, logits = classify("mnist", sample.x)
    assert logits.argmax(1).unique().numel() > 1  # else every labelling would score the same
    trainer = evaluate_conditional(sample, load_dataset("mnist", options={"num_examples": 512}))
    assert out["class_acc"] == pytest.approx(trainer[f"class_acc[{P}]"], abs=1e-6)

    # intra-class FID/KID: the shared helpers on the first 200 test digits and their labels
    x, y = mnist("test")
    real = _features(_extractor("mnist"), torch.from_numpy(x[:200].copy())[:, None], "pool")
    real_y = torch.from_numpy(y[:200].astype(np.int64))
    assert out["fid_intra"] == pytest.approx(intra_class_fid(feats, sample.y, real, real_y, 10), rel=1e-6)
    assert out["kid_intra"] == pytest.approx(intra_class_kid(feats, sample.y, real, real_y, 10), rel=1e-6, abs=1e-9)


def test_lpips_per_class_of_a_run_scores_the_streamed_samples(cgan_run, run_samples, capsys):
    out = metrics_json(capsys, str(cgan_run), "--metrics", "lpips_class", "--num", "200",
                       "--lpips-pairs", "6", "--lpips-random-backbone", str(LPIPS_SEED))
    record = out["protocol"]["metrics"]["lpips_class"]
    assert record["classes"] == 10 and record["pairs_per_class"] == 6
    # the same pairs of the same samples, held in memory
    inp = ArrayInput("samples", "npz", float_to_uint8(run_samples.x), y=run_samples.y)
    model, _ = build_lpips("alex", random_backbone=LPIPS_SEED)
    value, per_class, _ = class_diversity(inp, run_samples.y, 10, model, num_pairs=6, seed=2020)
    assert out["lpips_class"] == pytest.approx(value, rel=1e-6) and value > 0
    assert out["protocol"]["metrics"]["lpips_class"]["per_class"] == pytest.approx({str(k): v for k, v in per_class.items()})


def test_dataset_splits_and_npz_files_carry_their_labels(tmp_path):
    x, y = mnist("test")
    split = resolve_input("mnist:test", num=30)
    assert split.has_labels() and split.num_classes == 10
    assert torch.equal(split.labels(), torch.from_numpy(y[:30].astype(np.int64)))
    path = tmp_path / "l.npz"
    np.savez(path, x=x[:40], labels=y[:40])
    npz = resolve_input(str(path), num=25)
    assert npz.has_labels() and torch.equal(npz.labels(), torch.from_numpy(y[:25].astype(np.int64)))
    np.savez(path, x=x[:40])
    assert not resolve_input(str(path)).has_labels()


@pytest.fixture(scope="module")
def labelled_npz(tmp_path_factory):
    """Test digits 500-999 with their labels, and with the labels shuffled (the reference is digits
    0-499: the first 5,000 MNIST test digits come from one writer population, the rest from another)."""
    x, y = mnist("test")
    root = tmp_path_factory.mktemp("labelled")
    right, shuffled = root / "right.npz", root / "shuffled.npz"
    np.savez(right, x=x[500:1000, :, :, None], y=y[500:1000])
    np.savez(shuffled, x=x[500:1000, :, :, None], y=np.random.default_rng(0).permutation(y[500:1000]))
    return right, shuffled


def test_real_labelled_images_score_as_a_perfect_generator(labelled_npz, capsys):
    right, shuffled = labelled_npz
    args = ("mnist:test", "--metrics", "class_acc,fid_intra,kid_intra", "--protocol", P, "--num", "500")
    good = metrics_json(capsys, str(right), *args)
    bad = metrics_json(capsys, str(shuffled), *args)
    x, y = mnist("test")
    logits = _features(_extractor("mnist"), torch.from_numpy(x[500:1000].copy())[:, None], "logits")
    accuracy = class_accuracy(logits, torch.from_numpy(y[500:1000].astype(np.int64)))
    assert good["class_acc"] == pytest.approx(accuracy, abs=1e-12) and accuracy > 0.97  # the classifier's 0.9948
    assert bad["class_acc"] < 0.2
    assert good["fid_intra"] < 0.25 * bad["fid_intra"]
    assert good["kid_intra"] < 0.1 * bad["kid_intra"]


def test_each_input_is_extracted_once_for_every_conditional_metric(labelled_npz, monkeypatch, capsys):
    seen = []
    original = ClassifierFeatures.__call__

    def counting(self, batch, kinds):
        seen.append(batch.shape[0])
        return original(self, batch, kinds)

    monkeypatch.setattr(ClassifierFeatures, "__call__", counting)
    out = metrics_json(capsys, str(labelled_npz[0]), "mnist:test", "--metrics", "class_acc,fid_intra,kid_intra,fid",
                       "--protocol", P, "--num", "500", "--batch-size", "100")
    assert sum(seen) == 500 + 500 and {"class_acc", "fid_intra", "kid_intra", "fid"} <= set(out)


def test_lpips_per_class_is_zero_for_a_class_collapsed_to_one_image(tmp_path, capsys):
    """Class 0 holds six copies of one digit: no diversity within it, though the set has plenty."""
    x, _ = mnist("test")
    images = np.concatenate([np.repeat(x[:1], 6, axis=0), x[1:13]])
    labels = np.array([0] * 6 + [1] * 6 + [2] * 6)
    path = tmp_path / "collapsed.npz"
    np.savez(path, x=images, y=labels)
    out = metrics_json(capsys, str(path), "--metrics", "lpips_class,lpips_div", "--lpips-pairs", "8",
                       "--lpips-random-backbone", str(LPIPS_SEED))
    per = out["protocol"]["metrics"]["lpips_class"]["per_class"]
    assert per["0"] == pytest.approx(0.0, abs=1e-7) and per["1"] > 0 and per["2"] > 0
    assert out["lpips_class"] == pytest.approx(np.mean(list(per.values())), rel=1e-9)
    assert out["lpips_diversity"] > out["lpips_class"]

    # each class's value is the mean of direct lpips calls on its pairs
    import lpips

    inp = resolve_input(str(path))
    model, _ = build_lpips("alex", random_backbone=LPIPS_SEED)
    _, per_class, pairs = class_diversity(inp, inp.labels(), 3, model, num_pairs=8, seed=2020)
    torch.manual_seed(LPIPS_SEED)
    ref = lpips.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False).eval()
    imgs = torch.from_numpy(images)[:, None]
    with torch.no_grad():
        for k, p in pairs.items():
            assert (labels[p] == k).all() and (p[:, 0] != p[:, 1]).all()
            direct = [float(ref(to_lpips_input(imgs[i : i + 1]), to_lpips_input(imgs[j : j + 1]))) for i, j in p]
            assert per_class[k] == pytest.approx(float(np.mean(direct)), rel=1e-5, abs=1e-7)
            assert per[str(k)] == pytest.approx(per_class[k], rel=1e-9, abs=1e-12)


def test_unlabelled_inputs_are_one_line_errors(tmp_path, labelled_npz, capsys):
    run = train(tmp_path / "gan", "gan-ns", 2)
    err = one_line_error(capsys, str(run), "mnist:test", "--metrics", "class_acc", "--protocol", P, "--num", "50")
    assert "class_acc" in err and "'gan-ns'" in err and "not class-conditional" in err

    x, _ = mnist("test")
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=x[:50])
    err = one_line_error(capsys, str(plain), "mnist:test", "--metrics", "fid_intra", "--protocol", P, "--num", "50")
    assert "fid_intra" in err and "no class labels" in err

    folder = tmp_path / "pngs"
    folder.mkdir()
    from PIL import Image

    for i in range(4):
        Image.fromarray(x[i]).save(folder / f"{i}.png")
    err = one_line_error(capsys, str(labelled_npz[0]), str(folder), "--metrics", "kid_intra", "--protocol", P, "--num", "4")
    assert "kid_intra" in err and "image folder" in err and "labelled reference" in err

    err = one_line_error(capsys, str(labelled_npz[0]), "mnist:test", "--metrics", "class_acc", "--num", "50")
    assert "not defined under protocol legacy-tf" in err

    for name, y in (("short", np.arange(49) % 10), ("float", np.zeros(50, np.float32)), ("negative", np.full(50, -1))):
        bad = tmp_path / f"{name}.npz"
        np.savez(bad, x=x[:50], y=y)
        err = one_line_error(capsys, str(bad), "mnist:test", "--metrics", "class_acc", "--protocol", P, "--num", "50")
        assert str(bad) in err and "label" in err
        scored = main(["metrics", str(bad), "mnist:test", "--metrics", "fid", "--protocol", P, "--num", "50",
                                    "--no-cache"])
        assert scored == 0  # labels are read only for the metrics that need them
        capsys.readouterr()

    wrong = tmp_path / "eleven.npz"
    np.savez(wrong, x=x[:50], y=np.arange(50) % 11)
    err = one_line_error(capsys, str(wrong), "mnist:test", "--metrics", "fid_intra", "--protocol", P, "--num", "50")
    assert "label 10" in err and "10 classes" in err
