"""Budgets: a cap per task and monthly caps per project and per installation.

Before a call the service reserves its estimated cost against every budget that applies,
atomically (a Lua script in Redis, so parallel chunks in several workers cannot
overshoot); after the call it settles the reservation with the real cost. Amounts are
kept in micro-dollars (integers). Defaults come from settings; overrides (stored in the
database, edited through the API) are handed in with ``set_*``. 0 means no cap.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

from bot.config import Settings
from bot.errors import BudgetExceeded

log = logging.getLogger(__name__)

PREFIX = "auditbot:llm:budget:"
TASK_TTL_S = 14 * 24 * 3600
MONTH_TTL_S = 40 * 24 * 3600
MICRO = 1_000_000

# KEYS: budget counters. ARGV[1]: amount; ARGV[1+i]: limit of KEYS[i] (0 = none);
# ARGV[1+n+i]: TTL of KEYS[i]. Returns 0 when reserved, else the index of the full budget.
_RESERVE = """
local amount = tonumber(ARGV[1])
local n = #KEYS
for i = 1, n do
  local limit = tonumber(ARGV[1 + i])
  if limit > 0 then
    local current = tonumber(redis.call('GET', KEYS[i]) or '0')
    if current + amount > limit then return i end
  end
end
for i = 1, n do
  redis.call('INCRBY', KEYS[i], amount)
  redis.call('EXPIRE', KEYS[i], tonumber(ARGV[1 + n + i]))
end
return 0
"""


@dataclass(frozen=True)
class Scope:
    kind: str  # "task" | "project" | "installation"
    key: str
    limit_micro: int
    ttl_s: int


@dataclass(frozen=True)
class Reservation:
    scopes: tuple[Scope, ...]
    amount_micro: int


class BudgetStore(Protocol):
    async def reserve(self, scopes: list[Scope], amount_micro: int) -> Scope | None:
        """Reserve on every scope, or on none and return the scope that had no room."""
        ...

    async def add(self, keys: list[str], delta_micro: int) -> None: ...

    async def spent(self, key: str) -> int: ...

    async def seed(self, key: str, micro: int, ttl_s: int) -> bool:
        """Set a counter only if it does not exist yet (e.g. after Redis lost its data)."""
        ...


class RedisBudgetStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._reserve = redis.register_script(_RESERVE)

    async def reserve(self, scopes: list[Scope], amount_micro: int) -> Scope | None:
        if not scopes:
            return None
        args = [amount_micro, *(s.limit_micro for s in scopes), *(s.ttl_s for s in scopes)]
        full = int(await self._reserve(keys=[PREFIX + s.key for s in scopes], args=args))
        return scopes[full - 1] if full else None

    async def add(self, keys: list[str], delta_micro: int) -> None:
        if keys and delta_micro:
            async with self._redis.pipeline(transaction=True) as pipe:
                for key in keys:
                    pipe.incrby(PREFIX + key, delta_micro)
                await pipe.execute()

    async def spent(self, key: str) -> int:
        return int(await self._redis.get(PREFIX + key) or 0)

    async def seed(self, key: str, micro: int, ttl_s: int) -> bool:
        return bool(await self._redis.set(PREFIX + key, micro, ex=ttl_s, nx=True))


class MemoryBudgetStore:
    """Single process: the event loop never switches inside these methods, so each is atomic."""

    def __init__(self) -> None:
        self._spent: dict[str, int] = {}

    async def reserve(self, scopes: list[Scope], amount_micro: int) -> Scope | None:
        for scope in scopes:
            if scope.limit_micro > 0 and self._spent.get(scope.key, 0) + amount_micro > (
                scope.limit_micro
            ):
                return scope
        for scope in scopes:
            self._spent[scope.key] = self._spent.get(scope.key, 0) + amount_micro
        return None

    async def add(self, keys: list[str], delta_micro: int) -> None:
        for key in keys:
            self._spent[key] = self._spent.get(key, 0) + delta_micro

    async def spent(self, key: str) -> int:
        return self._spent.get(key, 0)

    async def seed(self, key: str, micro: int, ttl_s: int) -> bool:
        if key in self._spent:
            return False
        self._spent[key] = micro
        return True


class Budgets:
    """The budget rules of one service: defaults from settings, overrides per id."""

    def __init__(self, settings: Settings, store: BudgetStore) -> None:
        self._store = store
        self.task_default = settings.budget_per_task_usd
        self.project_default = settings.budget_project_monthly_usd
        self.installation_default = settings.budget_installation_monthly_usd
        self._task: dict[str, float] = {}
        self._project: dict[int, float] = {}
        self._installation: dict[int, float] = {}

    def set_task_cap(self, task_id: str, usd: float) -> None:
        self._task[task_id] = usd

    def forget_task(self, task_id: str) -> None:
        """Drop the task's override: its Redis counter expires on its own."""
        self._task.pop(task_id, None)

    def set_project_monthly(self, project_id: int, usd: float) -> None:
        self._project[project_id] = usd

    def set_installation_monthly(self, installation_id: int, usd: float) -> None:
        self._installation[installation_id] = usd

    def scopes(
        self, task_id: str | None, project_id: int | None, installation_id: int | None,
        *, now: dt.datetime | None = None,
    ) -> list[Scope]:
        month = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m")
        scopes = []
        if task_id is not None:
            usd = self._task.get(task_id, self.task_default)
            scopes.append(Scope("task", f"task:{task_id}", _micro(usd), TASK_TTL_S))
        if project_id is not None:
            usd = self._project.get(project_id, self.project_default)
            scopes.append(
                Scope("project", f"project:{project_id}:{month}", _micro(usd), MONTH_TTL_S)
            )
        if installation_id is not None:
            usd = self._installation.get(installation_id, self.installation_default)
            scopes.append(
                Scope("installation", f"installation:{installation_id}:{month}", _micro(usd),
                      MONTH_TTL_S)
            )
        return scopes

    async def reserve(
        self, amount_usd: float, task_id: str | None, project_id: int | None,
        installation_id: int | None,
    ) -> Reservation:
        """Reserve ``amount_usd`` or raise :class:`BudgetExceeded` naming the full budget."""
        scopes = self.scopes(task_id, project_id, installation_id)
        amount = _micro(amount_usd)
        full = await self._store.reserve(scopes, amount)
        if full is not None:
            raise BudgetExceeded(full.kind, full.limit_micro / MICRO, amount_usd)
        return Reservation(tuple(scopes), amount)

    async def reserve_more(self, reservation: Reservation, amount_usd: float) -> Reservation:
        """Reserve ``amount_usd`` more on the same budgets, for a further call of the same
        request (the fix-up of an invalid answer); raises :class:`BudgetExceeded`."""
        amount = _micro(amount_usd)
        full = await self._store.reserve(list(reservation.scopes), amount)
        if full is not None:
            raise BudgetExceeded(full.kind, full.limit_micro / MICRO, amount_usd)
        return Reservation(reservation.scopes, reservation.amount_micro + amount)

    async def settle(self, reservation: Reservation, actual_usd: float) -> Reservation:
        """Replace the reserved amount with what was really spent; returns the reservation
        that now stands (settling it again later only adds the difference)."""
        delta = _micro(actual_usd) - reservation.amount_micro
        await self._store.add([s.key for s in reservation.scopes], delta)
        return Reservation(reservation.scopes, _micro(actual_usd))

    async def seed_month(
        self, spent_usd: float, *, project_id: int | None = None,
        installation_id: int | None = None,
    ) -> bool:
        """Start this month's counter of one project or installation at ``spent_usd`` (what
        the LLMUsage rows say) unless Redis already counts it; True when it was seeded.
        Call it when a task starts, so a Redis restart does not reset monthly budgets."""
        scopes = self.scopes(None, project_id, installation_id)
        if len(scopes) != 1:
            raise ValueError("give exactly one of project_id, installation_id")
        return await self._store.seed(scopes[0].key, _micro(spent_usd), scopes[0].ttl_s)

    async def spent_usd(
        self, *, task_id: str | None = None, project_id: int | None = None,
        installation_id: int | None = None,
    ) -> float:
        """What one budget (give exactly one id) has spent: this month's for projects and
        installations."""
        scopes = self.scopes(task_id, project_id, installation_id)
        if len(scopes) != 1:
            raise ValueError("give exactly one of task_id, project_id, installation_id")
        return await self._store.spent(scopes[0].key) / MICRO


def _micro(usd: float) -> int:
    return round(usd * MICRO)
