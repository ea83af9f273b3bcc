"""`atelier status` as an operator reads it: the queue per kind and priority, then the live
workers, as two small tables (plain text: it goes to a terminal or a log)."""

from __future__ import annotations

from collections.abc import Sequence

from agent.scaleout.envelope import WorkerBeat
from agent.scaleout.status import QueueLine, Snapshot


def status_lines(snapshot: Snapshot, where: str, prefix: str, now: float) -> list[str]:
    """Every line to print; `now` is time.time(), for how long ago each worker beat."""
    lines = [f"NATS at {where}, prefix {prefix}"]
    if not snapshot.has_queue:
        lines.append("no jobs stream yet: no bot or worker has started with this prefix")
    lines += ["", *_queue_table(snapshot.lines, snapshot.workers), ""]
    if snapshot.workers:
        lines += _worker_table(snapshot.workers, now)
    else:
        lines.append("no workers alive: start one with `atelier worker --kinds image,music`")
    if snapshot.unreadable_beats:
        lines.append(
            f"{snapshot.unreadable_beats} entr{'y' if snapshot.unreadable_beats == 1 else 'ies'}"
            " in the workers bucket not a worker's beat (left out)"
        )
    queued = sum(line.queued for line in snapshot.lines)
    in_flight = sum(line.in_flight for line in snapshot.lines)
    lines += ["", f"{queued} queued, {in_flight} in flight, {len(snapshot.workers)} workers"]
    return lines


def _queue_table(queue: Sequence[QueueLine], workers: Sequence[WorkerBeat]) -> list[str]:
    rows = [("kind", "priority", "queued", "in flight", "workers")]
    for line in queue:
        serving = sum(line.kind in beat.kinds for beat in workers)
        rows.append((line.kind, line.priority, str(line.queued), str(line.in_flight), str(serving)))
    return padded(rows)


def _worker_table(workers: Sequence[WorkerBeat], now: float) -> list[str]:
    rows = [("worker", "kinds", "device", "host", "pid", "in flight", "seen")]
    for beat in workers:
        ago = max(0.0, now - beat.seen_at)
        rows.append(
            (
                beat.worker_id,
                ",".join(beat.kinds),
                beat.device,
                beat.host,
                str(beat.pid),
                str(beat.in_flight),
                f"{ago:.0f} s ago",
            )
        )
    return padded(rows)


def padded(rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Columns as wide as their widest cell, two spaces apart."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
