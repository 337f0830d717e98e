"""A run as one JSON document: what `raincheck run --json` prints and the report's summary.json holds."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from raincheck.app.events import EventStream
    from raincheck.app.pipeline import PipelineResult

SCHEMA = 1


def run_document(
    command: str,
    settings: dict[str, Any],
    stream: EventStream,
    result: PipelineResult | None = None,
    *,
    error: str | None = None,
    failures: list[str] | None = None,
    replay_summary: Any = None,
    include_events: bool = False,
) -> dict[str, Any]:
    """The run's settings, counts, final local and cloud shadows (None when it failed before them), its
    failures and, with `include_events`, every event. Keys are always present, so a reader need not guess."""
    counts = stream.count_summary()
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "command": command,
        "ok": error is None,
        "error": error,
        "settings": settings,
        "counts": counts,
        "threshold": stream.threshold,
        "readings_published": counts["reading"],
        "publish_wall_s": None,
        "simulated_s": None,
        "real_time_factor": None,
        "thing": None,
        "local_shadow": None,
        "cloud_shadow": None,
        "dropped_summary": "",
        "failures": list(failures or []),
        "replay_summary": _summary(replay_summary),
        "faults": [event.data for event in stream.of("fault")],  # injected: name, arguments, at_s, effect
    }
    if result is not None:
        document.update(
            readings_published=result.readings_published,
            publish_wall_s=round(result.publish_wall_s, 3),
            simulated_s=result.simulated_s,
            real_time_factor=(
                round(result.simulated_s / result.publish_wall_s, 1) if result.publish_wall_s > 0 else None
            ),
            thing=result.thing,
            local_shadow=result.local_shadow,
            cloud_shadow=result.cloud_shadow,
            dropped_summary=result.dropped_summary,
            failures=list(result.failures),
            replay_summary=_summary(result.replay_summary),
            faults=list(result.faults),
        )
    if include_events:
        document["events"] = [event.as_dict() for event in stream.events]
    return document


def _summary(summary: Any) -> dict[str, Any] | None:
    if summary is None:
        return None
    if dataclasses.is_dataclass(summary):
        fields = dataclasses.asdict(summary)
        fields["skipped"] = getattr(summary, "skipped", None)
        return {key: str(value) if isinstance(value, Path) else value for key, value in fields.items()}
    return {"text": str(summary)}
