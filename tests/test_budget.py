"""Budgets parse, and stop where they say."""

import pytest

from gan_bench.budget import Budget, Consumed
from gan_bench.config import ConfigError


@pytest.mark.parametrize("text,unit,amount", [
    ("2000steps", "steps", 2000), ("50kimg", "images", 50_000), ("300s", "seconds", 300),
    ("5min", "seconds", 300), ("1.5kimg", "images", 1500), ("1h", "seconds", 3600),
])
def test_parse(text, unit, amount):
    b = Budget.parse(text)
    assert (b.unit, b.amount) == (unit, amount)


@pytest.mark.parametrize("text", ["", "12", "steps", "-5steps", "0steps", "3parsecs", "1.5steps"])
def test_parse_rejects(text):
    with pytest.raises(ConfigError, match="budget"):
        Budget.parse(text)


def test_image_budget_shrinks_the_last_step_to_land_exactly():
    b = Budget.parse("250img")
    used = Consumed(steps=2, images=200)
    assert b.batch_sizes(used, 1, 100) == [50]
    # n_critic = 3 critic batches of 64: remainder 50 split evenly
    assert b.batch_sizes(Consumed(images=200), 3, 64) == [17, 17, 16]
    assert b.batch_sizes(Consumed(images=0), 3, 64) == [64, 64, 64]
    # two images left for three critic batches: one batch of two, never batches of one
    assert b.batch_sizes(Consumed(images=248), 3, 64) == [2]


def test_no_batch_of_one_at_the_end_of_an_image_budget():
    # 1001 images in batches of 100: the tenth step takes 101 rather than leaving a batch of one
    b = Budget.parse("1001img")
    assert b.batch_sizes(Consumed(images=800), 1, 100) == [100]
    assert b.batch_sizes(Consumed(images=900), 1, 100) == [101]
    # every step of a run ends on the budget exactly, each batch of at least two
    for n_real in (1, 3, 5):
        for total in (1001, 1234, 997, 10):
            budget, used, sizes = Budget.parse(f"{total}img"), Consumed(), []
            while not budget.exhausted(used):
                step = budget.batch_sizes(used, n_real, 64)
                sizes += step
                used.images += sum(step)
            assert used.images == total
            assert min(sizes) >= 2, (n_real, total, sizes)


def test_exhausted():
    assert Budget.parse("10steps").exhausted(Consumed(steps=10))
    assert not Budget.parse("10steps").exhausted(Consumed(steps=9))
    assert Budget.parse("1kimg").exhausted(Consumed(images=1000))
    assert Budget.parse("2s").exhausted(Consumed(seconds=2.01))
