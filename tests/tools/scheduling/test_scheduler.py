"""The model scheduler: everyone's compatible jobs run as one batch, a failing job fails only
itself, a cancelled one leaves its batch, and batches are composed fairly."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.tools.scheduling.helpers import WAIT_S, Bad, FakeModel, in_thread, until
from tools.contract import Cancelled, ToolContext
from tools.scheduling.queue import Batching
from tools.scheduling.scheduler import Scheduler


def held(model: FakeModel, scheduler: Scheduler, pool: ThreadPoolExecutor):
    """The model's thread busy with a first job, so the jobs after it queue."""
    first = in_thread(pool, scheduler.lane("first"), model.work("gate", shape=None))
    model.holding.wait(WAIT_S)
    return first


def test_jobs_of_one_shape_from_different_people_run_as_one_batch() -> None:
    model, scheduler = FakeModel(), Scheduler(Batching(window_s=0))
    with ThreadPoolExecutor(8) as pool:
        first = held(model, scheduler, pool)
        asked = {
            person: in_thread(pool, scheduler.lane(person), model.work(person))
            for person in ("ann", "bo", "cy")
        }
        until(lambda: scheduler.waiting(model) == 3)
        model.gate.set()
        made = {person: job.result(WAIT_S) for person, job in asked.items()}
    assert first.result(WAIT_S) == "GATE"
    assert made == {"ann": "ANN", "bo": "BO", "cy": "CY"}
    assert sorted(model.batches[1]) == ["ann", "bo", "cy"] and len(model.batches) == 2
    scheduler.shutdown()


def test_other_shapes_and_lone_jobs_do_not_join_a_batch() -> None:
    model, scheduler = FakeModel(), Scheduler(Batching(window_s=0))
    with ThreadPoolExecutor(8) as pool:
        held(model, scheduler, pool)
        jobs = [
            in_thread(pool, scheduler.lane("ann"), model.work("a", shape=(512, 4))),
            in_thread(pool, scheduler.lane("bo"), model.work("b", shape=(768, 4))),
            in_thread(pool, scheduler.lane("cy"), model.work("c", shape=None)),
            in_thread(pool, scheduler.lane("di"), model.work("d", shape=None)),
        ]
        until(lambda: scheduler.waiting(model) == 4)
        model.gate.set()
        assert [job.result(WAIT_S) for job in jobs] == ["A", "B", "C", "D"]
    assert sorted(map(tuple, model.batches[1:])) == [("a",), ("b",), ("c",), ("d",)]
    scheduler.shutdown()


def test_a_failing_job_in_a_batch_does_not_fail_the_others() -> None:
    model, scheduler = FakeModel(), Scheduler(Batching(window_s=0))
    with ThreadPoolExecutor(8) as pool:
        held(model, scheduler, pool)
        good = [in_thread(pool, scheduler.lane(p), model.work(p)) for p in ("ann", "bo")]
        bad = in_thread(pool, scheduler.lane("cy"), model.work("bad"))
        until(lambda: scheduler.waiting(model) == 3)
        model.gate.set()
        assert [job.result(WAIT_S) for job in good] == ["ANN", "BO"]
        with pytest.raises(Bad):
            bad.result(WAIT_S)
    # The batch of three failed, then each ran alone.
    assert sorted(model.batches[1]) == ["ann", "bad", "bo"]
    assert sorted(map(tuple, model.batches[2:])) == [("ann",), ("bad",), ("bo",)]
    scheduler.shutdown()


def test_a_cancelled_job_leaves_its_batch_at_the_next_step_and_the_others_go_on() -> None:
    model, scheduler = FakeModel(steps=4), Scheduler(Batching(window_s=0))
    stopping = ToolContext()
    seen: list[int] = []

    def cancel_after_two(done: int, _total: int) -> None:
        seen.append(done)
        if done == 2:
            stopping.cancelled.set()
        stopping.check()

    with ThreadPoolExecutor(8) as pool:
        held(model, scheduler, pool)
        staying = in_thread(pool, scheduler.lane("ann"), model.work("ann"))
        leaving = in_thread(pool, scheduler.lane("bo"), model.work("bo", on_step=cancel_after_two))
        until(lambda: scheduler.waiting(model) == 2)
        model.gate.set()
        assert staying.result(WAIT_S) == "ANN"
        with pytest.raises(Cancelled):
            leaving.result(WAIT_S)
    assert seen == [1, 2] and sorted(model.batches[1]) == ["ann", "bo"]
    scheduler.shutdown()


def test_a_job_cancelled_while_it_waits_never_runs() -> None:
    model, scheduler = FakeModel(), Scheduler(Batching(window_s=0))
    context = ToolContext()
    with ThreadPoolExecutor(8) as pool:
        held(model, scheduler, pool)
        waiting = in_thread(
            pool, scheduler.lane("ann"), model.work("ann"), context.progress, context.check
        )
        until(lambda: scheduler.waiting(model) == 1)
        context.cancelled.set()
        with pytest.raises(Cancelled):
            waiting.result(WAIT_S)
        until(lambda: not scheduler.waiting(model))
        model.gate.set()
    assert model.batches == [["gate"]]
    scheduler.shutdown()


def test_a_batch_is_composed_round_robin_across_people() -> None:
    model, scheduler = FakeModel(), Scheduler(Batching(window_s=0, max_size=(("fake", 3),)))
    with ThreadPoolExecutor(16) as pool:
        held(model, scheduler, pool)
        mine = [in_thread(pool, scheduler.lane("ann"), model.work(f"ann{i}")) for i in range(6)]
        until(lambda: scheduler.waiting(model) == 6)
        others = [in_thread(pool, scheduler.lane(p), model.work(p)) for p in ("bo", "cy")]
        until(lambda: scheduler.waiting(model) == 8)
        model.gate.set()
        for job in [*mine, *others]:
            job.result(WAIT_S)
    # Ann asked six times first, yet the first batch after the gate has one of hers and
    # one each of the others'.
    assert sorted(model.batches[1]) == ["ann0", "bo", "cy"]
    scheduler.shutdown()


def test_a_person_s_sessions_take_turns() -> None:
    model, scheduler = FakeModel(), Scheduler(Batching(window_s=0))
    order: list[str] = []
    lock = threading.Lock()

    def noted(item: str):
        def on_step(done: int, _total: int) -> None:
            if done == 1:
                with lock:
                    order.append(item)

        return model.work(item, shape=None, on_step=on_step)

    with ThreadPoolExecutor(16) as pool:
        held(model, scheduler, pool)
        jobs = [in_thread(pool, scheduler.lane("ann", "home"), noted(f"home{i}")) for i in range(3)]
        until(lambda: scheduler.waiting(model) == 3)
        jobs.append(in_thread(pool, scheduler.lane("ann", "session"), noted("session0")))
        until(lambda: scheduler.waiting(model) == 4)
        model.gate.set()
        for job in jobs:
            job.result(WAIT_S)
    assert order.index("session0") < order.index("home2")
    scheduler.shutdown()
