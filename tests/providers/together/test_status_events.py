"""Together statuses and events normalised: every documented status, unknown ones, ordering, ids."""

from __future__ import annotations

import pytest
from ftkit.providers.together._status import event_page, map_state, normalise_events

from ftkit.types import JobState


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("pending", JobState.PENDING),
        ("queued", JobState.QUEUED),
        ("running", JobState.RUNNING),
        ("compressing", JobState.RUNNING),
        ("uploading", JobState.RUNNING),
        ("cancel_requested", JobState.RUNNING),
        ("cancelled", JobState.CANCELLED),
        ("error", JobState.FAILED),
        ("user_error", JobState.FAILED),
        ("completed", JobState.SUCCEEDED),
        ("COMPLETED", JobState.SUCCEEDED),
        ("paused_for_maintenance", JobState.RUNNING),
        (None, JobState.RUNNING),
    ],
)
def test_every_status_maps_and_unknown_ones_stay_open(raw: str, state: JobState) -> None:
    assert map_state(raw) is state
    if raw not in ("completed", "COMPLETED", "cancelled", "error", "user_error"):
        assert not map_state(raw).is_terminal


def test_sdk_enum_members_are_read_by_value() -> None:
    fine_tuning_types = pytest.importorskip("together.lib.types.fine_tuning")
    status = fine_tuning_types.FinetuneJobStatus.STATUS_USER_ERROR
    assert map_state(status) is JobState.FAILED


RAW = [
    {"created_at": "2026-11-22T05:00:03.000Z", "type": "EPOCH_COMPLETE", "level": "Info", "step": 2, "total_steps": 4,
     "message": "Epoch 1/2 completed at step 2/4: train_loss=1.25 lr=2e-05"},
    {"created_at": "2026-11-22T05:00:01Z", "type": "job_start", "level": "", "message": "Job started"},
    {"created_at": "2026-11-22T05:00:05+00:00", "type": "COMPRESSING_MODEL", "level": "legacy_iwarning",
     "message": "Compressing"},
    {"created_at": "2026-11-22T05:00:01Z", "type": "job_start", "level": "", "message": "Job started"},
    {"created_at": "2026-11-22T05:00:09Z", "type": "job_error", "level": "error", "message": "Out of memory"},
]  # fmt: skip


def test_events_come_oldest_first_with_stable_unique_ids() -> None:
    events = normalise_events(RAW)
    assert [e.time for e in events] == sorted(e.time for e in events)
    assert len({e.id for e in events}) == len(events), "a repeated event still gets its own id"
    assert [e.id for e in normalise_events(RAW)] == [e.id for e in events], "ids are the same on every read"
    assert [e.id for e in normalise_events(list(reversed(RAW)))][-1] == events[-1].id


def test_types_and_levels_are_compared_case_insensitively() -> None:
    by_type = {e.type: e for e in normalise_events(RAW)}
    assert set(by_type) == {"epoch_complete", "job_start", "model_compressing", "job_error"}
    assert by_type["job_start"].level == "info"
    assert by_type["model_compressing"].level == "warning"
    assert by_type["job_error"].level == "error"


def test_event_text_stays_text_metrics_come_from_the_metrics_endpoint() -> None:
    # Together's events carry no loss values; numbers in a message are never read as metrics
    epoch = next(e for e in normalise_events(RAW) if e.type == "epoch_complete")
    assert (epoch.step, epoch.total_steps) == (2, 4)
    assert epoch.metrics == {}
    assert "train_loss=1.25" in epoch.message


def test_pages_follow_the_cursor_without_repeats() -> None:
    events = normalise_events(RAW)
    first = event_page(events, None, size=2)
    assert first.has_more and len(first.events) == 2
    rest = event_page(events, first.cursor, size=10)
    assert not rest.has_more
    assert [e.id for e in first.events + rest.events] == [e.id for e in events]
    assert event_page(events, rest.cursor).events == []


def test_metrics_and_events_read_at_different_moments_are_never_skipped() -> None:
    from ftkit.providers.together._metrics import merged_page, metric_events

    raw = [{"created_at": "2026-12-01T10:00:01.000Z", "type": "training_start", "message": "Training started"},
           {"created_at": "2026-12-01T10:00:02.000Z", "type": "epoch_complete", "message": "Epoch completed, at step 1",
            "step": 1}]  # fmt: skip
    rows = [{"timestamp": 1_796_119_202_000_000_500, "train/global_step": 1, "train/loss": 1.0}]
    # the metrics call ran a moment after the events call: it already has step 1, the events list not yet
    first = merged_page(normalise_events(raw[:1]), metric_events(rows), None, size=200)
    assert [e.type for e in first.events] == ["training_start", "metrics"]
    second = merged_page(normalise_events(raw), metric_events(rows), first.cursor, size=200)
    assert [e.type for e in second.events] == ["epoch_complete"]  # earlier than the metric, still delivered
    assert merged_page(normalise_events(raw), metric_events(rows), second.cursor, size=200).events == []
