"""Request bodies for GitHub's review and check-run endpoints, built from our dataclasses.

Shapes and limits: docs.github.com/en/rest/pulls/reviews#create-a-review-for-a-pull-request
(``line``/``side``, ``start_line``/``start_side`` for a range; no ``event`` makes a pending
review) and docs.github.com/en/rest/checks/runs#create-a-check-run (``output`` needs
``title`` and ``summary``; ``conclusion`` is required once ``status`` is ``completed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.forges import limits
from bot.forges.base import CHECK_NAME, Annotation, CheckUpdate, InlineComment
from bot.forges.review_text import marked

_SIDE = {"new": "RIGHT", "old": "LEFT"}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def comment_payload(comment: InlineComment) -> dict[str, Any]:
    item: dict[str, Any] = {
        "path": comment.path,
        "line": comment.line,
        "side": _SIDE[comment.side],
        "body": limits.fit(marked(comment), limits.GITHUB_BODY_MAX),
    }
    if comment.start_line is not None and comment.start_line != comment.line:
        item["start_line"] = comment.start_line
        item["start_side"] = _SIDE[comment.side]
    return item


def review_payload(
    head_sha: str, comments: Sequence[InlineComment], body: str | None
) -> dict[str, Any]:
    """A submitted COMMENT review, or a pending one (nobody else sees it) when body is None."""
    payload: dict[str, Any] = {
        "commit_id": head_sha,
        "comments": [comment_payload(c) for c in comments],
    }
    if body is not None:
        payload["body"] = body
        payload["event"] = "COMMENT"
    return payload


def annotation_payload(item: Annotation) -> dict[str, Any]:
    data: dict[str, Any] = {
        "path": item.path,
        "start_line": item.start_line,
        "end_line": max(item.end_line, item.start_line),
        "annotation_level": item.level,
        "message": limits.fit(item.message, limits.CHECK_OUTPUT_MAX),
    }
    if item.title:
        data["title"] = item.title[:255]
    if item.raw_details:
        data["raw_details"] = limits.fit(item.raw_details, limits.CHECK_OUTPUT_MAX)
    return data


def output_payload(update: CheckUpdate, annotations: Sequence[Annotation]) -> dict[str, Any]:
    output: dict[str, Any] = {
        "title": update.title[: limits.CHECK_TITLE_MAX] or CHECK_NAME,
        "summary": limits.fit(update.summary or update.title or "…", limits.CHECK_OUTPUT_MAX),
    }
    if update.text:
        output["text"] = limits.fit(update.text, limits.CHECK_OUTPUT_MAX)
    if annotations:
        output["annotations"] = [annotation_payload(a) for a in annotations]
    return output


def check_payload(
    update: CheckUpdate, annotations: Sequence[Annotation], *, final: bool
) -> dict[str, Any]:
    """One create/update body; ``final`` False sends only output (an appending PATCH)."""
    payload: dict[str, Any] = {}
    if update.details_url:
        payload["details_url"] = update.details_url
    if update.title or update.summary or annotations:
        payload["output"] = output_payload(update, annotations)
    if not final:
        return payload
    payload["status"] = update.status
    if update.status == "in_progress":
        payload["started_at"] = now()
    if update.status == "completed":
        payload["conclusion"] = update.conclusion or "neutral"
        payload["completed_at"] = now()
    return payload


def _batches(update: CheckUpdate) -> list[tuple[Annotation, ...]]:
    return list(limits.batches(update.annotations, limits.ANNOTATIONS_PER_REQUEST)) or [()]


def check_patches(update: CheckUpdate, batches: Sequence[tuple[Annotation, ...]]) -> list[
    dict[str, Any]
]:
    """PATCH bodies: each appends its annotations (docs.github.com/en/rest/checks/runs
    #update-a-check-run); the status changes with the last one."""
    return [
        check_payload(update, batch, final=index == len(batches) - 1)
        for index, batch in enumerate(batches)
    ]


def check_create(
    head_sha: str, update: CheckUpdate, key: str | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The POST body of a new ``auditbot`` run and the PATCH bodies that must follow it;
    ``key`` (the task id) is the run's external_id, by which a retry finds it again."""
    batches = _batches(update)
    first = update
    if len(batches) > 1 and update.status == "completed":
        # Conclude only with the last batch: a run is never "completed" half-annotated.
        first = CheckUpdate(
            "in_progress", update.title, update.summary, text=update.text,
            details_url=update.details_url,
        )
    create = {"name": CHECK_NAME, "head_sha": head_sha,
              **check_payload(first, batches[0], final=True)}
    if key is not None:
        create["external_id"] = key
    return create, check_patches(update, batches[1:])


def check_updates(update: CheckUpdate) -> list[dict[str, Any]]:
    return check_patches(update, _batches(update))
