"""The admission queue and fair batches of `textseq serve` (textseq.admission), with a fake
model that blocks until the test lets it go: what runs in which batch is decided by event
order, never by timing."""

import asyncio
import threading

import pytest

from textseq.admission import (
    ESTIMATE_LIFE,
    DeadlineExceeded,
    FairBatcher,
    QueueFull,
    ShuttingDown,
    TooSlow,
)


class BlockingModel:
    """Echoes its texts; the first call blocks until `release` is set."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, texts: list[str], key) -> list[str]:
        self.batches.append(list(texts))
        if len(self.batches) == 1:
            self.started.set()
            assert self.release.wait(30), "the test never released the model"
        return [text.upper() for text in texts]


def batcher(model, **overrides) -> FairBatcher:
    settings = dict(
        max_batch=4,
        max_wait_ms=0,
        batch_chars=1_000_000,
        queue_texts=1000,
        queue_chars=1_000_000,
        deadline_s=30,
    )
    return FairBatcher(model, **{**settings, **overrides})


async def until(condition) -> None:
    """Yields to the event loop until `condition()` holds (state, not time)."""
    for _ in range(100_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


async def model_started(model: BlockingModel) -> None:
    await asyncio.to_thread(model.started.wait, 30)


def test_a_new_request_waits_for_at_most_the_running_batch():
    """The bound: a 1-text request sent while a 20-text request occupies the model runs in
    the very next batch (a FIFO queue would put it behind 4 more batches of the large one)."""
    model = BlockingModel()

    async def run():
        b = batcher(model)
        large = asyncio.create_task(b.submit([f"big{i}" for i in range(20)]))
        await model_started(model)
        small = asyncio.create_task(b.submit(["small"]))
        await until(lambda: b.waiting_texts == 16 + 1)
        model.release.set()
        results = await asyncio.gather(large, small)
        await b.stop()
        return results

    large, small = asyncio.run(run())
    assert model.batches[0] == ["big0", "big1", "big2", "big3"]
    assert "small" in model.batches[1]
    assert small == ["SMALL"]
    assert large == [f"BIG{i}" for i in range(20)]  # in order, across 6 batches
    assert all(len(batch) <= 4 for batch in model.batches)


def test_waiting_requests_share_every_batch_round_robin():
    model = BlockingModel()

    async def run():
        b = batcher(model)
        first = asyncio.create_task(b.submit(["x"]))
        await model_started(model)
        a = asyncio.create_task(b.submit(["a1", "a2", "a3", "a4", "a5"]))
        c = asyncio.create_task(b.submit(["c1", "c2", "c3", "c4", "c5"]))
        await until(lambda: b.waiting_texts == 10)
        model.release.set()
        await asyncio.gather(first, a, c)
        await b.stop()

    asyncio.run(run())
    assert model.batches[1:] == [["a1", "c1", "a2", "c2"], ["a3", "c3", "a4", "c4"], ["a5", "c5"]]


def test_batches_hold_at_most_batch_chars_characters_unless_one_text_is_longer():
    model = BlockingModel()
    model.release.set()

    async def run():
        b = batcher(model, batch_chars=25)
        results = await asyncio.gather(
            b.submit(["a" * 10, "b" * 10, "c" * 10]), b.submit(["d" * 40]), b.submit(["e" * 5])
        )
        await b.stop()
        return results

    results = asyncio.run(run())
    assert results[1] == ["D" * 40]
    for batch in model.batches:
        assert len(batch) == 1 or sum(map(len, batch)) <= 25
    assert sorted(t for batch in model.batches for t in batch) == sorted(
        ["a" * 10, "b" * 10, "c" * 10, "d" * 40, "e" * 5]
    )


def test_a_full_queue_refuses_at_once_and_admits_again_when_it_drains():
    model = BlockingModel()

    async def run():
        b = batcher(model, queue_texts=5, queue_chars=1000)
        running = asyncio.create_task(b.submit(["r"]))
        await model_started(model)
        waiting = asyncio.create_task(b.submit(["w1", "w2", "w3", "w4"]))
        await until(lambda: b.waiting_texts == 4)
        with pytest.raises(QueueFull) as full:
            await b.submit(["one", "two"])  # 4 + 2 > 5: refused without waiting
        assert full.value.retry_after >= 1 and "queue is full" in str(full.value)
        fits = asyncio.create_task(b.submit(["fits"]))  # 4 + 1: admitted
        await until(lambda: b.waiting_texts == 5)
        model.release.set()
        assert await fits == ["FITS"]
        await asyncio.gather(running, waiting)
        again = await b.submit(["one", "two"])
        await b.stop()
        return again

    assert asyncio.run(run()) == ["ONE", "TWO"]
    assert ["one", "two"] not in model.batches[:2]


def test_the_character_bound_refuses_too():
    model = BlockingModel()

    async def run():
        b = batcher(model, queue_chars=10)
        running = asyncio.create_task(b.submit(["r"]))
        await model_started(model)
        with pytest.raises(QueueFull):
            await b.submit(["x" * 11])
        model.release.set()
        await running
        await b.stop()

    asyncio.run(run())


def test_past_its_deadline_a_request_gets_504_and_its_texts_never_reach_the_model():
    model = BlockingModel()

    async def run():
        b = batcher(model)
        running = asyncio.create_task(b.submit(["r"]))
        await model_started(model)
        with pytest.raises(DeadlineExceeded):
            await b.submit(["late1", "late2"], deadline_s=0.01)  # the model is still blocked
        assert (b.waiting_texts, b.waiting_chars) == (0, 0)
        model.release.set()
        assert await running == ["R"]
        assert await b.submit(["next"]) == ["NEXT"]
        await b.stop()

    asyncio.run(run())
    assert not any("late1" in batch for batch in model.batches)


def test_work_of_a_client_that_left_is_dropped_before_the_model():
    model = BlockingModel()

    async def run():
        b = batcher(model)
        running = asyncio.create_task(b.submit(["r"]))
        await model_started(model)
        gone = asyncio.create_task(b.submit([f"gone{i}" for i in range(10)]))
        await until(lambda: b.waiting_texts == 10)
        gone.cancel()  # what the server does when the client disconnects
        await until(lambda: b.waiting_texts == 0)
        model.release.set()
        await running
        assert await b.submit(["after"]) == ["AFTER"]
        await b.stop()

    asyncio.run(run())
    assert model.batches == [["r"], ["after"]]


def test_stop_drains_admitted_requests_then_refuses_new_ones():
    model = BlockingModel()

    async def run():
        b = batcher(model)
        running = asyncio.create_task(b.submit(["r"]))
        await model_started(model)
        queued = asyncio.create_task(b.submit(["q"]))
        await until(lambda: b.waiting_texts == 1)
        stopping = asyncio.create_task(b.stop(drain_s=30))
        await until(lambda: b.draining)
        with pytest.raises(ShuttingDown):
            await b.submit(["refused"])
        model.release.set()
        await stopping
        return await running, await queued

    assert asyncio.run(run()) == (["R"], ["Q"])


def test_stop_answers_what_it_could_not_drain_with_shutting_down():
    model = BlockingModel()

    async def run():
        b = batcher(model)
        running = asyncio.create_task(b.submit(["r"]))
        await model_started(model)
        queued = asyncio.create_task(b.submit(["q"]))
        await until(lambda: b.waiting_texts == 1)
        stopping = asyncio.create_task(b.stop(drain_s=0))
        with pytest.raises(ShuttingDown):
            await queued
        model.release.set()
        await stopping
        return await running

    assert asyncio.run(run()) == ["R"]
    assert ["q"] not in model.batches


def test_requests_with_different_keys_never_share_a_batch():
    seen: list[tuple] = []

    def model(texts, key):
        seen.append((key, tuple(texts)))
        return [f"{key}:{t}" for t in texts]

    async def run():
        b = batcher(model, max_wait_ms=50)
        results = await asyncio.gather(
            b.submit(["a"], key=1), b.submit(["b"], key=2), b.submit(["c"], key=1)
        )
        await b.stop()
        return results

    assert asyncio.run(run()) == [["1:a"], ["2:b"], ["1:c"]]
    assert all(len({key}) == 1 for key, _ in seen)


def test_one_bad_request_in_a_shared_batch_fails_alone():
    def picky(texts, key):
        if "bad" in texts:
            raise ValueError("bad text")
        return [{"text": t} for t in texts]

    async def run():
        b = batcher(picky, max_batch=16, max_wait_ms=100)
        results = await asyncio.gather(
            b.submit(["a"]), b.submit(["bad"]), b.submit(["b"]), return_exceptions=True
        )
        await b.stop()
        return results

    good, bad, other = asyncio.run(run())
    assert good == [{"text": "a"}] and other == [{"text": "b"}]
    assert isinstance(bad, ValueError)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="queue_texts"):
        batcher(lambda t, k: t, queue_texts=0)
    with pytest.raises(ValueError, match="deadline_s"):
        batcher(lambda t, k: t, deadline_s=0)


def test_a_request_too_slow_for_its_deadline_is_refused_at_once_a_small_one_is_not():
    model = BlockingModel()

    async def run():
        b = batcher(model, deadline_s=5)
        running = asyncio.create_task(b.submit(["r"]))
        await model_started(model)
        waiting = asyncio.create_task(b.submit(["w" * 400]))
        await until(lambda: b.waiting_texts == 1)
        b.seconds_per_char = 0.01  # as measured on large batches: 100 characters a second
        b._measured_at = asyncio.get_running_loop().time()
        with pytest.raises(TooSlow, match="over the deadline of 5 s"):
            await b.submit(["x" * 300])  # 300 of its own + 300 of the waiting one's: 6 s
        small = asyncio.create_task(b.submit(["y" * 100]))  # 100 + 100: 2 s, admitted
        await until(lambda: b.waiting_texts == 2)
        model.release.set()
        results = await asyncio.gather(running, waiting, small)
        await b.stop()
        return results

    assert asyncio.run(run())[2] == ["Y" * 100]
    assert not any("x" * 300 in batch for batch in model.batches)


def test_a_stale_speed_estimate_refuses_nothing():
    model = BlockingModel()
    model.release.set()

    async def run():
        b = batcher(model, deadline_s=5)
        b.seconds_per_char = 0.01
        b._measured_at = asyncio.get_running_loop().time() - ESTIMATE_LIFE - 1
        result = await b.submit(["x" * 1000])  # 10 s by the stale estimate: admitted
        await b.stop()
        return result, b.seconds_per_char

    assert asyncio.run(run()) == (["X" * 1000], None)
