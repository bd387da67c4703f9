"""The faults of the soak benchmark, drawn from its seed: when the worker is killed and when
Redis is down (the schedule), and the scripted model's bad answers (a share of 500s and of
text that is no JSON). GitHub's own faults are the fake's (``FakeGitHub.set_faults``).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass

from tests.fakes.fake_openai import Script

RESTART_AFTER_S = 2.0  # a supervisor brings a killed worker back after this


@dataclass(frozen=True)
class Schedule:
    """Seconds from the start of the stream."""

    kills: tuple[float, float]  # SIGKILL of worker 1, twice
    redis_down: float  # Redis stopped...
    redis_up: float  # ...and started again

    @classmethod
    def draw(cls, rng: random.Random, duration_s: float) -> Schedule:
        # Fixed windows keep the faults apart: a worker restarted while Redis is down would
        # show the start-up check, not how a running worker rides out an outage.
        down = rng.uniform(0.35, 0.5) * duration_s
        outage = rng.uniform(10, 30)
        first = rng.uniform(0.12, 0.28) * duration_s
        second = rng.uniform(0.68, 0.85) * duration_s
        return cls((first, second), down, down + outage)

    @property
    def last(self) -> float:
        return max(*self.kills, self.redis_up)


class ModelFaults(Script):
    """The fake model's faults drawn per request: ``rates`` maps a fault of
    ``tests.fakes.fake_openai.FAULTS`` to its share of requests."""

    def __init__(self, rates: dict[str, float], seed: int) -> None:
        super().__init__()
        self.rates = rates
        self.enabled = True
        self.counts: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._draw_lock = threading.Lock()

    def next(self) -> str:
        with self._draw_lock:
            self.counts["calls"] += 1
            if not self.enabled:
                return "ok"
            roll = self._rng.random()
            for fault, rate in self.rates.items():
                if roll < rate:
                    self.counts[fault] += 1
                    return fault
                roll -= rate
            return "ok"
