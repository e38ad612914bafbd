"""The term rules as versioned data: the term lengths a placement may be planned for, the longest a term may
run with extensions, and how many days a running placement may go without a check-in.

domain.md calls 12 or 24 months (36 at most with an extension) typical: local practice, so a county adopts
its own versions, each in force from a date, and the version that judged a decision is stamped on its events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date

from services.backbone.domain import Context, Decision, DomainError, Event, NotFoundError, StepOrderError, in_force
from services.posting.domain.rules import require_organisation_department

# Earlier than any day a request may name (WORK_DATE), so the built-in default covers every decision.
DEFAULT_SINCE = date(1980, 1, 1)
DEFAULT_VERSION = "default-1"


@dataclass(frozen=True)
class TermPolicy:
    """One version of the term rules; `allowed_term_months` ascending, none longer than `max_term_months`."""

    version: str
    effective_from: date
    allowed_term_months: tuple[int, ...] = (12, 24)
    max_term_months: int = 36
    check_in_days: int = 90

    @property
    def label(self) -> str:
        """The rules in the users' words."""
        terms = "或".join(map(str, self.allowed_term_months))
        return (f"挂职期限{terms}个月，延期后合计不超过{self.max_term_months}个月；"
                f"跟踪督查间隔不超过{self.check_in_days}天")


DEFAULT_POLICY = TermPolicy(DEFAULT_VERSION, DEFAULT_SINCE)


def default_policy(check_in_days: int = DEFAULT_POLICY.check_in_days) -> TermPolicy:
    """The built-in rules; a deployment's own check-in interval (FOURGATES_CHECKIN_MAX_DAYS) makes them a version
    of their own (`default-1-checkin-60d`), so a stamp never stands for two intervals."""
    if check_in_days == DEFAULT_POLICY.check_in_days:
        return DEFAULT_POLICY
    if check_in_days < 1:  # a setting of the deployment, not a request: no user can correct it
        raise ValueError(f"FOURGATES_CHECKIN_MAX_DAYS must be a positive number of days, not {check_in_days}")
    return replace(DEFAULT_POLICY, version=f"{DEFAULT_VERSION}-checkin-{check_in_days}d", check_in_days=check_in_days)


def policy_in_force(policies: Iterable[TermPolicy], on: date) -> TermPolicy:
    """The policy with the latest `effective_from` not after `on`; of two from the same day, the later adopted."""
    policy = in_force(policies, on)
    if policy is None:
        raise NotFoundError("no_term_policy_in_force", f"no term policy is in force on {on.isoformat()}")
    return policy


@dataclass(frozen=True)
class PolicyAdopted(Event):
    """A new version of the term rules; plans, extensions and check-in alerts from `effective_from` on follow it."""

    TYPE = "posting.PolicyAdopted"
    version: str
    effective_from: date
    allowed_term_months: list[int]
    max_term_months: int
    check_in_days: int


@dataclass(frozen=True)
class AdoptPolicy:
    policy: TermPolicy


def decide_adopt_policy(adopted: Sequence[TermPolicy], command: AdoptPolicy, ctx: Context) -> Decision:
    """PolicyAdopted by the organisation department; the same version again with the same rules appends nothing,
    with other rules it is refused (a version is never redefined, so every stamp keeps its meaning)."""
    require_organisation_department(ctx, "adopt term policies")
    policy = command.policy
    same = [p for p in adopted if p.version == policy.version]
    if same and same[0] == policy:
        return Decision([])
    if same:
        raise StepOrderError(
            "policy_version_exists",
            f"version rule: term policy {policy.version} was already adopted with other rules; adopt a new version",
            field="version",
        )
    check_policy(policy)
    event = PolicyAdopted(policy.version, policy.effective_from, list(policy.allowed_term_months),
                          policy.max_term_months, policy.check_in_days)
    return Decision([event], policy_version=policy.version)


def check_policy(policy: TermPolicy) -> None:
    """Refuse rules that could never be followed, naming the field and the rule (`<field>_<rule>`)."""
    terms = policy.allowed_term_months
    if not terms:
        _refuse("allowed_term_months", "empty", "at least one term length is needed")
    if any(not isinstance(t, int) or t < 1 for t in terms):
        _refuse("allowed_term_months", "not_positive", f"every term is a positive number of months; got {list(terms)}")
    if list(terms) != sorted(set(terms)):
        _refuse("allowed_term_months", "not_ascending", f"terms are listed once each, shortest first; got {list(terms)}")
    if not isinstance(policy.max_term_months, int) or policy.max_term_months < 1:
        _refuse("max_term_months", "not_positive", f"a positive number of months; got {policy.max_term_months}")
    if terms[-1] > policy.max_term_months:
        _refuse("allowed_term_months", "above_maximum",
                f"a term of {terms[-1]} months exceeds max_term_months {policy.max_term_months}")
    if not isinstance(policy.check_in_days, int) or policy.check_in_days < 1:
        _refuse("check_in_days", "not_positive", f"a positive number of days; got {policy.check_in_days}")


def _refuse(field: str, rule: str, message: str) -> None:
    raise DomainError(f"{field}_{rule}", f"term policy rule: {field}: {message}", field=field)


def fold_policies(events: Iterable[Event]) -> tuple[TermPolicy, ...]:
    """Every adopted version, in adoption order."""
    return tuple(
        TermPolicy(e.version, e.effective_from, tuple(e.allowed_term_months), e.max_term_months, e.check_in_days)
        for e in events
        if isinstance(e, PolicyAdopted)
    )
