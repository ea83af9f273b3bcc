"""Who and where, resolved once per turn: the person, the conversation, the piece in focus.

Everything a turn reads from the database before it decides is read here, in one transaction:
the person and their conversation (created on first contact), the files they sent (kept as
pieces, already written to the media store outside the transaction), the piece in focus, the
context window, their taste (the params of pieces they kept, and voted for in sessions where
they opted in: agent/store/taste.py) and, for a command's Args, what its run draws on
(agent/styles/resolution.py: a style's pictures, a style by name, the person's poems as their
voice). The `Scope` then travels down the turn; nothing looks any of it up again (Args
decided from free text are drawn on once, by `Scopes.drawn_on`).

In a DM, and in a shared channel, every person has a private conversation: one person's
messages never reach another person's context.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.making.uploads import WrittenUpload, add_uploads, discard_uploads
from agent.policy.rules import NO_RULES, PlaceRules
from agent.sessions.store import (
    NotInSession,
    SessionPaused,
    conversation_here,
    present_member,
)
from agent.store.artifacts import ArtifactNotFound, resolve_focus, visible_artifact
from agent.store.db import Artifact, GroupSession, MemberRole, SessionState
from agent.store.memory import ContextWindow, Memory
from agent.store.people import create_conversation, find_or_create_user
from agent.store.retry import CommitUncertain, transaction
from agent.store.taste import taste_params, taste_pieces
from agent.styles.resolution import NO_DRAWS, DrawRefused, Draws, draws_on_anything, read_draws
from agent.types import Place, Reply, Turn
from tools.contract import ArtifactKind, ToolArgs

NO_HISTORY = ContextWindow(None, (), 0)


@dataclass(frozen=True, kw_only=True)
class SharedSession:
    """The group session a turn is in, as the turn needs it."""

    session_id: int
    theme: str
    style: str | None
    mode: str
    hidden: bool  # a relay whose members see only the line they follow
    speaker: str  # the display name of the member speaking
    is_host: bool
    names: Mapping[int, str]  # every member's display name, for the history's labels
    taste: bool  # whether the speaker let their own taste shape the session's pieces


def shared_session(group: GroupSession, user_id: int) -> SharedSession:
    """The session as the turn of member `user_id` sees it; NotInSession for anyone else."""
    member = present_member(group, user_id)
    if member is None:
        raise NotInSession(group.theme)
    if group.state == SessionState.PAUSED:
        raise SessionPaused()
    return SharedSession(
        session_id=group.id,
        theme=group.theme,
        style=group.style,
        mode=group.mode,
        hidden=group.hidden,
        speaker=member.user.display_name,
        is_host=member.role == MemberRole.HOST,
        names={m.user_id: m.user.display_name for m in group.members},
        taste=member.taste,
    )


@dataclass(frozen=True, kw_only=True)
class Scope:
    """What one turn is about. Built by `Scopes.resolve`; read-only afterwards."""

    user_id: int
    conversation_id: int
    window: ContextWindow
    # The piece the turn builds on: the last file sent, else the one replied to, else the one
    # named (#N, or a button's or option's `piece`), else the latest; None in a new chat.
    focus: Artifact | None = None
    # For a critique in focus, the piece it critiques (when the person can still see it).
    critiqued: Artifact | None = None
    uploaded: tuple[Artifact, ...] = ()
    # Params of the pieces the person kept (/keep) or voted for where they opted in (their
    # taste: agent/store/taste.py), newest first, by kind.
    taste: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    # The group session the turn is in; None in a private conversation.
    shared: SharedSession | None = None
    # What the server's policy asks of the tools here (agent/policy/); set by the agent.
    rules: PlaceRules = NO_RULES
    # Where the turn is, as the job ledger keeps a tool run's place (agent/ledger/).
    platform: str = ""
    place: Place = Place()
    # What the run of `drawn_for` (its Args) draws on besides the focus (agent/styles/).
    draws: Draws = NO_DRAWS
    drawn_for: ToolArgs | None = None

    def kept(self, kind: ArtifactKind) -> tuple[Mapping[str, Any], ...]:
        return self.taste.get(kind.value, ())

    @property
    def style(self) -> str | None:
        """The session's shared style, which every piece made in it follows."""
        return None if self.shared is None else self.shared.style


class Scopes:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], memory: Memory) -> None:
        self._sessions = sessions
        self._memory = memory

    async def resolve(
        self,
        turn: Turn,
        *,
        piece: int | None,
        uploads: Sequence[WrittenUpload],
        window_tokens: int | None,
        kinds: Collection[ArtifactKind] = tuple(ArtifactKind),
        args: ToolArgs | None = None,
    ) -> Scope | Reply:
        """The turn's scope, or a Reply when the piece it names cannot be seen. The uploads'
        files are already in the media store; they are removed again if this fails. With
        `window_tokens` None the history is not read (nothing in the turn reads it); the
        person's taste is read for the `kinds` of piece the turn may make, and what a
        command's `args` draw on (a source that is not theirs: a Reply, nothing stored)."""

        async def read(session: AsyncSession) -> Scope:
            scope = await self._read(session, turn, piece, uploads, window_tokens, kinds)
            if args is None or not draws_on_anything(args):
                return scope
            draws = await read_draws(session, scope.user_id, args, scope.uploaded)
            return replace(scope, draws=draws, drawn_for=args)

        try:
            # Retried once if the connection drops before the commit (agent/store/retry.py).
            return await transaction(self._sessions, read, doing="reading a turn's scope")
        except (ArtifactNotFound, NotInSession, SessionPaused, DrawRefused) as refused:
            await discard_uploads(uploads)
            return Reply(str(refused), stored=False, private=True)
        except CommitUncertain:  # the uploads may be stored as pieces, which need their files
            raise
        except BaseException:
            await discard_uploads(uploads)
            raise

    async def drawn_on(self, scope: Scope, args: ToolArgs) -> Scope | Reply:
        """The scope with what `args` draw on, for Args decided after the scope was resolved
        (free text); one short read, only when they draw on something not read yet."""
        if args == scope.drawn_for:
            return scope
        if not draws_on_anything(args):
            return replace(scope, draws=NO_DRAWS, drawn_for=args)
        try:
            async with self._sessions() as session:
                draws = await read_draws(session, scope.user_id, args, scope.uploaded)
        except (ArtifactNotFound, DrawRefused) as refused:
            return Reply(str(refused), stored=False, private=True)
        return replace(scope, draws=draws, drawn_for=args)

    async def named_piece(self, scope: Scope, number: int) -> Artifact:
        """Piece #number, when the person may see it; ArtifactNotFound otherwise. For a piece
        named after the scope was resolved (a tool-calling model's `piece`)."""
        async with self._sessions() as session:
            piece = await visible_artifact(session, number, scope.user_id)
        if piece is None:
            raise ArtifactNotFound(number)
        return piece

    async def _window(
        self, session: AsyncSession, conversation_id: int, tokens: int | None
    ) -> ContextWindow:
        if tokens is None:
            return NO_HISTORY
        return await self._memory.window(session, conversation_id, max(tokens, 0))

    async def _read(
        self,
        session: AsyncSession,
        turn: Turn,
        piece: int | None,
        uploads: Sequence[WrittenUpload],
        window_tokens: int | None,
        kinds: Collection[ArtifactKind],
    ) -> Scope:
        user = await find_or_create_user(session, turn.platform, turn.user)
        conversation, group = await conversation_here(session, turn.platform, user, turn.place)
        if conversation is None:
            conversation = await create_conversation(session, turn.platform, user, turn.place)
        shared = None if group is None else shared_session(group, user.id)
        uploaded = await add_uploads(session, uploads, user.id, conversation.id)
        focus = uploaded[-1] if uploaded else None
        if focus is None:
            focus = await resolve_focus(
                session,
                user_id=user.id,
                conversation_id=conversation.id,
                piece=piece,
                reply_to=turn.reply_to,
            )
        return Scope(
            user_id=user.id,
            conversation_id=conversation.id,
            window=await self._window(session, conversation.id, window_tokens),
            focus=focus,
            critiqued=await _critiqued(session, focus, user.id),
            uploaded=tuple(uploaded),
            # In a session a member's own taste shapes its pieces only if they opted in.
            taste={} if shared and not shared.taste else await _taste(session, user.id, kinds),
            shared=shared,
            platform=turn.platform,
            place=turn.place,
        )


async def _critiqued(
    session: AsyncSession, focus: Artifact | None, user_id: int
) -> Artifact | None:
    if focus is None or focus.kind != ArtifactKind.CRITIQUE.value or focus.parent_id is None:
        return None
    return await visible_artifact(session, focus.parent_id, user_id)


async def _taste(
    session: AsyncSession, user_id: int, kinds: Collection[ArtifactKind]
) -> dict[str, tuple[Mapping[str, Any], ...]]:
    return taste_params(await taste_pieces(session, user_id, [kind.value for kind in kinds]))
