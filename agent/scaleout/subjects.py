"""Every name the bot and its workers agree on, in one place.

Jobs go to one work-queue stream, a subject per kind and priority, so a worker pulls only the
kinds it serves (`atelier worker --kinds image,music`) and the urgent before the rest. Results
go to a second stream, a subject per bot process, so the bot that asked reads its own results,
even those that arrived while it was restarting. Progress is plain NATS (lost if nobody
listens, which is what progress should be); cancellations and live workers are KV buckets, so a
worker that takes a job later still sees that it was called off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tools.contract import ArtifactKind

JobKind = Literal["text", "image", "music", "critique"]
Priority = Literal["now", "later"]  # now: a person waits on it; later: background work
KINDS: tuple[JobKind, ...] = ("text", "image", "music", "critique")
PRIORITIES: tuple[Priority, ...] = ("now", "later")

_KIND_OF: dict[ArtifactKind, JobKind] = {
    ArtifactKind.POEM: "text",
    ArtifactKind.IMAGE: "image",
    ArtifactKind.MUSIC: "music",
    ArtifactKind.CRITIQUE: "critique",
    ArtifactKind.STYLE: "image",  # a style is trained on the image model, by image workers
}


def job_kind(kind: ArtifactKind) -> JobKind:
    """The job kind of a tool that makes `kind` pieces (a poem is text work)."""
    return _KIND_OF[kind]


@dataclass(frozen=True)
class Names:
    """The streams, subjects and buckets of one deployment. The prefix (ATELIER_NATS_PREFIX,
    default "atelier") keeps two deployments on one NATS server apart, and each test's."""

    prefix: str = "atelier"

    @property
    def jobs_stream(self) -> str:
        return f"{self.prefix.upper()}_JOBS"

    @property
    def results_stream(self) -> str:
        return f"{self.prefix.upper()}_RESULTS"

    @property
    def cancelled_bucket(self) -> str:
        """job id -> b"1": called off (a worker that takes the job later still sees it)."""
        return f"{self.prefix}_cancelled"

    @property
    def workers_bucket(self) -> str:
        """worker id -> its WorkerBeat, refreshed while it is alive (entries expire)."""
        return f"{self.prefix}_workers"

    @property
    def media_bucket(self) -> str:
        """The object store, when bot and workers share no disk."""
        return f"{self.prefix}_media"

    def jobs(self) -> str:
        """Every job subject (the jobs stream's filter)."""
        return f"{self.prefix}.jobs.>"

    def job(self, kind: JobKind, priority: Priority) -> str:
        return f"{self.prefix}.jobs.{kind}.{priority}"

    def results(self, bot_id: str | None = None) -> str:
        """Every result (the results stream's filter), or every result for one bot process
        (its durable consumer's filter)."""
        return f"{self.prefix}.results.>" if bot_id is None else f"{self.prefix}.results.{bot_id}.*"

    def result(self, bot_id: str, job_id: int) -> str:
        return f"{self.prefix}.results.{bot_id}.{job_id}"

    def progress(self, job_id: int) -> str:
        return f"{self.prefix}.progress.{job_id}"

    def cancel(self, job_id: int) -> str:
        """Plain NATS: a worker running the job stops it within a step."""
        return f"{self.prefix}.cancel.{job_id}"

    def cancels(self) -> str:
        """Every job's cancel subject (what a worker listens to)."""
        return f"{self.prefix}.cancel.*"

    def worker_consumer(self, kind: JobKind, priority: Priority) -> str:
        """The durable pull consumer every worker of `kind` shares, one per priority: each
        job goes to one worker, and a worker asks the "now" consumer first."""
        return f"{self.prefix}-{kind}-{priority}"

    def bot_consumer(self, bot_id: str) -> str:
        """The durable consumer of one bot process's results: it outlives a restart."""
        return f"{self.prefix}-bot-{bot_id}"

    def message_id(self, job_id: int) -> str:
        """The Nats-Msg-Id header: JetStream drops a second publish of the same job."""
        return f"{self.prefix}-job-{job_id}"

    def result_message_id(self, job_id: int) -> str:
        """The Nats-Msg-Id of a job's result: a second worker that reran a redelivered job
        (the first died after publishing, before acking) publishes a result JetStream drops."""
        return f"{self.prefix}-result-{job_id}"
