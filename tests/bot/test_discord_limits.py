"""The per-person rate limit: a sliding minute, per person, with a refusal that says when."""

from __future__ import annotations

from bot.discord.limits import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_slides_with_the_minute_and_is_per_person() -> None:
    clock = Clock()
    limiter = RateLimiter(3, clock=clock)
    for second in (0, 10, 20):
        clock.now = 1000.0 + second
        assert limiter.wait_s("ada") is None
    clock.now = 1030.0
    assert limiter.wait_s("ada") == 30.0  # the turn at 0 s leaves the window at 60 s
    assert limiter.wait_s("bob") is None
    clock.now = 1060.0
    assert limiter.wait_s("ada") is None  # one slot free again
    assert limiter.wait_s("ada") == 10.0  # the turn at 10 s is the oldest now


def test_the_refusal_is_friendly_and_rounds_up_to_a_second() -> None:
    limiter = RateLimiter(10)
    assert limiter.refusal(0.2) == (
        "Easy there! You've started 10 things in the last minute, the most I take from one "
        "person. Try again in 1 s."
    )


def test_people_idle_for_a_minute_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(1, clock=clock)
    for person in range(2000):
        limiter.wait_s(str(person))
    clock.now += 61
    limiter.wait_s("ada")
    assert len(limiter._turns) <= 2
