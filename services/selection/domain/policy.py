"""Eligibility policy as versioned data: one policy book, each version effective from a date.

Age caps are local settings (e.g. 40 for section level), so they live in events, not in code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import reduce
from typing import ClassVar

from services.backbone.domain import Context, Decision, DomainError, Event, in_force

from .labels import RANK_LABELS
from .ranks import rank_level
from .rules import require_role, require_text

YOUNGEST_CAP, OLDEST_CAP = 18, 70


@dataclass(frozen=True)
class PolicyAdopted(Event):
    TYPE: ClassVar[str] = "selection.PolicyAdopted"
    version: str
    effective_from: date
    age_caps: dict[str, int]
    reserve_preferred: bool


@dataclass(frozen=True)
class EligibilityPolicy:
    """Age caps map a rank code to the oldest age (inclusive) at which a cadre of that rank qualifies."""

    version: str
    effective_from: date
    age_caps: dict[str, int]
    reserve_preferred: bool

    @property
    def label(self) -> str:
        """The rules in the users' words."""
        caps = "，".join(f"{RANK_LABELS.get(rank, rank)}不超过{cap}岁" for rank, cap in self.age_caps.items())
        reserve = "优先推荐后备干部" if self.reserve_preferred else "不设后备干部优先"
        return f"年龄上限：{caps or '不设'}；{reserve}"


@dataclass(frozen=True)
class PolicyBook:
    """Every adopted version, in adoption order."""

    policies: tuple[EligibilityPolicy, ...] = field(default=())

    def versions(self) -> list[str]:
        return [p.version for p in self.policies]

    def in_force(self, on: date) -> EligibilityPolicy | None:
        """The version with the latest effective_from on or before `on`; a tie goes to the later adoption."""
        return in_force(self.policies, on)


@dataclass(frozen=True)
class AdoptPolicy:
    version: str
    effective_from: date
    age_caps: dict[str, int]
    reserve_preferred: bool = True


def evolve(state: PolicyBook | None, event: Event) -> PolicyBook | None:
    """Fold one event into the policy book; events of other types leave it unchanged."""
    if isinstance(event, PolicyAdopted):
        book = state or PolicyBook()
        adopted = EligibilityPolicy(
            event.version,
            event.effective_from,
            dict(event.age_caps),
            event.reserve_preferred,
        )
        return PolicyBook((*book.policies, adopted))
    return state


def fold(events: Iterable[Event]) -> PolicyBook | None:
    """Replay the policy book's events in order; None when there are none."""
    return reduce(evolve, events, None)


def decide_adopt_policy(state: PolicyBook | None, command: AdoptPolicy, ctx: Context) -> Decision:
    """Add a new policy version; a version name is never reused, so recorded checks stay traceable."""
    require_role(ctx, "adopt eligibility policies", "organisation_department")
    version = require_text(command.version, "version")
    if state is not None and version in state.versions():
        raise DomainError(
            "policy_version_exists",
            f"policy version rule: version {version} was already adopted; adopt a new version instead",
            version=version,
        )
    _check_age_caps(command.age_caps)
    event = PolicyAdopted(
        version,
        command.effective_from,
        dict(command.age_caps),
        command.reserve_preferred,
    )
    return Decision([event])


def _check_age_caps(age_caps: dict[str, int]) -> None:
    for rank, cap in age_caps.items():
        rank_level(rank)
        if not isinstance(cap, int) or not YOUNGEST_CAP <= cap <= OLDEST_CAP:
            raise DomainError(
                "invalid_age_cap",
                f"age cap rule: cap {cap!r} for rank {rank} must be a whole number of years from {YOUNGEST_CAP} to {OLDEST_CAP}",
                rank=rank,
                cap=cap,
            )
