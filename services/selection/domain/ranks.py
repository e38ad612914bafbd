"""The rank ladder as ordered codes, and the posting-level rule that compares a post with a rank."""

from __future__ import annotations

from services.backbone.domain import DomainError

from .labels import POSTING_MODE_LABELS, RANK_LABELS
from .rules import require_code

RANKS: tuple[str, ...] = tuple(RANK_LABELS)
POSTING_MODES: tuple[str, ...] = tuple(POSTING_MODE_LABELS)


def rank_level(rank: str) -> int:
    """Position of `rank` on the ladder, clerk = 0; refuses an unknown code with `unknown_rank`."""
    return RANKS.index(require_code(rank, RANKS, "unknown_rank", "rank"))


def check_posting_level(rank: str, post_level: str, mode: str) -> None:
    """Refuse with `posting_level` unless `mode` fits the post's level relative to the cadre's rank."""
    require_code(mode, POSTING_MODES, "unknown_posting_mode", "posting mode")
    gap = rank_level(post_level) - rank_level(rank)
    problem = _posting_problem(gap, mode, rank, post_level)
    if problem:
        raise DomainError(
            "posting_level",
            f"posting level rule: {problem}",
            rank=rank,
            post_level=post_level,
            posting_mode=mode,
            levels_above_rank=gap,
        )


def _posting_problem(gap: int, mode: str, rank: str, post: str) -> str | None:
    if gap > 1:
        return (
            f"post level {post} is {gap} levels above rank {rank}; a secondment is not a "
            "promotion and only assistant_one_up allows exactly one level up"
        )
    if gap == 1 and mode != "assistant_one_up":
        return f"post level {post} is above rank {rank}; only assistant_one_up allows exactly one level up"
    if gap == 0 and mode != "same_level":
        return f"post level {post} equals rank {rank}; {mode} does not fit, use same_level"
    if gap < 0 and mode != "lower_post":
        return f"post level {post} is below rank {rank}; {mode} does not fit, use lower_post"
    return None
