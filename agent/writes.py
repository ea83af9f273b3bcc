"""A turn's writes, in one transaction: the person's message, what the tools made, the reply.

Media files are already in the media store when this runs (agent/making/files.py wrote them in
a thread); here only rows are written. If the transaction fails, or the conversation was
forgotten while the tools ran, nothing of the turn is stored and the files it wrote are
removed, so a failure never leaves an artifact row or a file that nothing points to. The same
transaction makes each run's job done (agent/ledger/claim.py): a job whose piece another
process stored already (a redelivered remote result) stores nothing a second time.
Each transaction is run once more if the database connection drops before its commit
(agent/store/retry.py); a drop during the commit keeps the files, as the pieces may be stored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.ledger.claim import GONE, claim_for_storing, not_stored_line
from agent.ledger.models import JobState
from agent.making.studio import Made, Studio
from agent.scope import Scope
from agent.store.artifacts import add_artifact, shown_artifact
from agent.store.db import Artifact, Role, utcnow
from agent.store.memory import Memory, MessageDraft
from agent.store.retry import CommitUncertain, transaction
from agent.types import Reply
from tools.contract import ArtifactDraft, ArtifactKind

# Written with a turn's pieces, in their transaction: (session, each run's main piece).
AlsoStore = Callable[[AsyncSession, Sequence[Artifact]], Awaitable[None]]
FORGOTTEN = GONE


class TurnWrites:
    def __init__(
        self, *, sessions: async_sessionmaker[AsyncSession], memory: Memory, studio: Studio
    ) -> None:
        self._sessions = sessions
        self._memory = memory
        self._studio = studio

    async def words(
        self, scope: Scope, said: str, answer: str, *, artifact_id: int | None = None
    ) -> bool:
        """The person's message and a reply in words (chat, a question, "Kept #3");
        False when the conversation was forgotten meanwhile."""
        messages = (
            self._memory.draft(Role.USER, said, author_id=scope.user_id),
            self._memory.draft(Role.ASSISTANT, answer, artifact_id=artifact_id),
        )

        async def append(session: AsyncSession) -> bool:
            return await self._memory.append(session, scope.conversation_id, *messages)

        return await transaction(self._sessions, append, doing="storing a reply")

    async def pieces(
        self,
        scope: Scope,
        said: str | None,
        made: Sequence[Made],
        *,
        closing: str | None = None,
        also: AlsoStore | None = None,
    ) -> Reply:
        """Every piece the turn made, each with the line that presents it, after the person's
        message; then `closing` (a tool-calling model's last words). The Reply says what the
        single tool said, or `closing`. With `said` None the pieces are the bot's own doing (a
        round's jury), after no message of the person's. `also` writes what else the pieces
        are (a round's candidates) in the same transaction; whatever it raises undoes it all."""
        drafts = self._message_drafts(scope, said, made, closing)
        try:
            stored = await self._store(scope, said, made, *drafts, also=also)
        except IntegrityError:  # the conversation (and the piece built on) went meanwhile
            stored = None
        except CommitUncertain:  # the pieces may be stored, and a piece needs its files
            raise
        except BaseException:
            await self._studio.discard(made)
            raise
        if isinstance(stored, NotRunning):  # its job was stored, or reported, by another
            await self._studio.discard(made, keep_files=stored.state == JobState.DONE)
            return Reply(not_stored_line(stored.state), stored=False)
        if stored is None:
            await self._studio.discard(made)
            return Reply(FORGOTTEN, stored=False)
        shown = tuple(shown_artifact(artifact, self._studio.media) for artifact in stored)
        return Reply(_reply_text(made, closing), artifacts=shown)

    async def pasted_poem(self, scope: Scope, poem: str, form: str | None) -> Artifact:
        """A poem pasted into a message for critique, kept as a piece so that one of the
        critique's suggestions can revise it (its own transaction: the revision needs it)."""
        draft = ArtifactDraft(
            ArtifactKind.POEM,
            text=poem,
            params={"pasted": True, **({"form": form} if form else {})},
        )

        async def add(session: AsyncSession) -> Artifact:
            return await add_artifact(
                session,
                conversation_id=scope.conversation_id,
                creator_id=scope.user_id,
                draft=draft,
                prompt="a poem pasted for critique",
                parent=None,
                media=None,
            )

        return await transaction(self._sessions, add, doing="keeping a pasted poem")

    def _message_drafts(
        self, scope: Scope, said: str | None, made: Sequence[Made], closing: str | None
    ) -> tuple[MessageDraft | None, list[MessageDraft], MessageDraft | None]:
        """Counted before the transaction opens: the tokenizer never runs under the lock."""
        person = (
            None if said is None else self._memory.draft(Role.USER, said, author_id=scope.user_id)
        )
        presented = [
            self._memory.draft(
                Role.ASSISTANT,
                one.seen_by_the_model,
                tool_name=one.request.tool.name,
                tool_args=one.request.args.model_dump(mode="json", exclude_none=True),
            )
            for one in made
        ]
        last = self._memory.draft(Role.ASSISTANT, closing) if closing else None
        return person, presented, last

    async def _store(
        self,
        scope: Scope,
        said: str | None,
        made: Sequence[Made],
        person: MessageDraft | None,
        presented: Sequence[MessageDraft],
        closing: MessageDraft | None,
        *,
        also: AlsoStore | None,
    ) -> list[Artifact] | NotRunning | None:
        async def write(session: AsyncSession) -> list[Artifact] | NotRunning | None:
            # First, so the row's lock is taken before anything is read (and SQLite's write
            # lock, waited for, rather than a read snapshot that a writer outdates).
            for one in made:
                claimed = await _claim_job(session, one)
                if claimed is not None:
                    await session.rollback()
                    return claimed
            messages, artifacts, pieces = [person] if person else [], [], []
            for one, line in zip(made, presented, strict=True):
                kept = await _add_pieces(session, scope, one, said)
                artifacts.extend(kept)
                pieces.append(kept[0])
                messages.append(replace(line, artifact_id=kept[0].id))
            messages.extend([closing] if closing else [])
            if also is not None:
                await also(session, pieces)
            if not await self._memory.append(session, scope.conversation_id, *messages):
                await session.rollback()
                return None
            return artifacts

        # Retried once if the connection drops before the commit: nothing of it was kept.
        return await transaction(self._sessions, write, doing="storing a turn")


@dataclass(frozen=True)
class NotRunning:
    """A run's job had left running before its piece was stored: its state then."""

    state: str


async def _claim_job(session: AsyncSession, made: Made) -> NotRunning | None:
    """The run's job flipped to done with its piece (exactly once, agent/ledger/claim.py)."""
    if made.job is None:  # a studio without a ledger
        return None
    state = await claim_for_storing(session, made.job, now=utcnow(), tool_seconds=made.tool_seconds)
    return None if state is None else NotRunning(state)


async def _add_pieces(
    session: AsyncSession, scope: Scope, made: Made, said: str | None
) -> list[Artifact]:
    """One run's drafts as artifacts: the piece, then its parts (a grid's single images)."""
    request = made.request
    return [
        await add_artifact(
            session,
            conversation_id=scope.conversation_id,
            creator_id=scope.user_id,
            draft=_in_session(draft, scope),
            prompt=_prompt_of(made, said),
            parent=request.focus if draft.from_focus else None,
            media=files.media,
            files=files.named,
        )
        for draft, files in zip(made.drafts, made.files, strict=True)
    ]


def _in_session(draft: ArtifactDraft, scope: Scope) -> ArtifactDraft:
    """A piece made in a group session records the shared style it followed."""
    if scope.style is None:
        return draft
    return replace(draft, params={**draft.params, "session_style": scope.style})


def _prompt_of(made: Made, said: str | None) -> str:
    """What the piece was asked as: the tool's text argument, else the message itself."""
    tool, args = made.request.tool, made.request.args
    value = getattr(args, tool.text_arg, None) if tool.text_arg else None
    return str(value) if value else (said or "")


def _reply_text(made: Sequence[Made], closing: str | None) -> str:
    if closing is not None or len(made) != 1:
        return closing or ""
    draft = made[0].draft
    return "\n\n".join(part for part in (draft.text, draft.note) if part)
