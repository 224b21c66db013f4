"""The batch budget of `textseq serve` (textseq.serve_budget) with a fake model whose cost is
a known function of its texts, kept on its own clock: no wall-clock time is measured or
asserted, only which texts run in which batch and what each batch costs by that function."""

import asyncio
import threading

import pytest

from textseq.admission import FairBatcher
from textseq.serve_budget import dense_text, measure_budget

FIXED, PER_CHAR = 0.001, 1e-5  # the fake model's seconds per call and per character


def cost(texts: list[str]) -> float:
    return FIXED + PER_CHAR * sum(len(text) for text in texts)


class CostModel:
    """Echoes its texts and advances its own clock by `cost(texts)`; with `block_first`, its
    first call waits until `release` is set (so the test decides what arrives meanwhile)."""

    def __init__(self, *, block_first: bool = False) -> None:
        self.clock = 0.0
        self.batches: list[list[str]] = []
        self.block_first = block_first
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, texts: list[str], key=None) -> list[str]:
        self.batches.append(list(texts))
        self.clock += cost(texts)
        if self.block_first and len(self.batches) == 1:
            self.started.set()
            assert self.release.wait(30), "the test never released the model"
        return list(texts)


def test_the_budget_is_what_the_model_runs_in_the_target_time():
    model = CostModel()
    budget = measure_budget(
        model,
        target_s=0.25,
        max_chars=10_000,
        max_batch=64,
        batch_chars=50_000,
        timer=lambda: model.clock,
    )
    # Batches grow 256 -> 1,024 -> 4,096 -> 10,000 characters in one text, then 4 texts
    # (0.401 s >= 0.125 s): the speed is measured there, its fixed cost included.
    assert [sum(map(len, b)) for b in model.batches[1:]] == [256, 1024, 4096, 10_000, 40_000]
    assert budget.measured_chars == 40_000
    assert budget.seconds_per_char == pytest.approx((FIXED + PER_CHAR * 40_000) / 40_000)
    assert budget.chars == int(0.25 / budget.seconds_per_char)  # 24,937
    # About the target: the fixed cost is spread over the measured batch's 40,000
    # characters, so a batch of the budget's fewer characters runs a little over it.
    assert 0.2 < FIXED + PER_CHAR * budget.chars <= 0.25 + FIXED
    assert budget.longest_text_seconds == pytest.approx(budget.seconds_per_char * 10_000)


def test_the_budget_never_exceeds_batch_chars_and_a_fast_model_is_measured_at_it():
    model = CostModel()
    budget = measure_budget(
        lambda texts: model([t[:1] for t in texts]),  # nearly free
        target_s=0.25,
        max_chars=10_000,
        max_batch=64,
        batch_chars=50_000,
        timer=lambda: model.clock,
    )
    assert budget.chars == 50_000 and budget.measured_chars == 50_000


def test_dense_text_is_one_letter_words_of_the_length_asked():
    assert dense_text(7) == "a a a a" and dense_text(4) == "a aa"
    assert dense_text(1) == "a" and len(dense_text(10_000)) == 10_000


def test_under_a_flood_a_probe_runs_in_the_second_batch_and_batches_keep_the_budget():
    """The bound of the issue: 4 requests of 20 texts x 10,000 characters are waiting when a
    1-text probe arrives, during the first batch. The probe runs in the next batch, and with
    the measured budget no batch of more than one text costs over 0.25 s by the model's own
    cost function, so the probe waits for at most about two budgets of work. Without the
    budget (--batch-chars 1,000,000) the first batch alone costs 6.4 s of it."""

    def flood(budgeted: bool) -> CostModel:
        model = CostModel(block_first=True)

        async def run():
            b = FairBatcher(
                model,
                max_batch=64,
                max_wait_ms=0,
                batch_chars=1_000_000,
                queue_texts=1000,
                queue_chars=10_000_000,
                deadline_s=60,
            )
            if budgeted:
                probe_model = CostModel()
                budget = measure_budget(
                    probe_model,
                    target_s=0.25,
                    max_chars=10_000,
                    max_batch=64,
                    batch_chars=1_000_000,
                    timer=lambda: probe_model.clock,
                )
                b.set_budget(batch_chars=budget.chars, seconds_per_char=budget.seconds_per_char)
            large = [
                asyncio.create_task(b.submit([f"{n}" * 10_000] * 20, deadline_s=60))
                for n in range(4)
            ]
            await asyncio.to_thread(model.started.wait, 30)
            probe = asyncio.create_task(b.submit(["probe"], deadline_s=60))
            for _ in range(1000):
                await asyncio.sleep(0)
            model.release.set()
            answers = await asyncio.gather(*large, probe)
            await b.stop()
            assert answers[-1] == ["probe"]

        asyncio.run(run())
        return model

    model = flood(budgeted=True)
    where = [i for i, batch in enumerate(model.batches) if "probe" in batch]
    assert where == [1]  # the second batch: after the one running when it arrived
    for batch in model.batches:
        assert len(batch) == 1 or cost(batch) <= 0.25
    assert cost(model.batches[0]) <= 0.25
    assert sum(map(len, model.batches)) == 4 * 20 + 1  # every text ran once

    unbounded = flood(budgeted=False)
    assert cost(unbounded.batches[0]) > 6  # 64 texts of 10,000 characters
