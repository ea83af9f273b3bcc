"""Conversation memory at scale: appending a message and loading a context window.

Run (a fresh SQLite file in a temporary directory, removed afterwards; 1M messages; about
a minute on a 2-core machine, a minute and a half against a local PostgreSQL):

    .venv/bin/python bench/memory.py
    .venv/bin/python bench/memory.py --sizes 10000,100000 --samples 200
    .venv/bin/python bench/memory.py --url postgresql+asyncpg://user@host:5432/empty_db

The schema comes from the real Alembic migrations and the engine from agent.store.db.create_engine
(on SQLite: WAL, synchronous=NORMAL), so the app's indexes and settings are what is measured.
A --url must name an empty database; the script refuses one that already has users.

The database is filled in stages up to each --sizes total (users, one private conversation
each, messages spread unevenly across them in user/assistant pairs, and a rolling summary on
every conversation long enough to have one). The fill is bulk SQL, not what is measured.
At each stage these operations are timed one at a time, in a shuffled order so that noise
from a shared machine hits all of them alike:

    append        one message added to a random user's conversation, committed
    store turn    what a chat turn stores: the user message and the reply, one transaction
    window        a random user's context window (summary and newest messages): session, window()
    probe window  the window of one fixed conversation whose own history never changes
    select 1      a session that runs SELECT 1 and commits: the floor that the session, the
                  transaction and the async driver cost whatever the database holds (aiosqlite
                  makes a thread round trip per cursor call, ~10 per window), so a reader can
                  tell fixed overhead from the cost of the queries themselves

Stage sizes count every message, the probe's and those appended while measuring included.
The probe is the clean test that loading does not grow with total history: its messages and
summary stay the same while the table grows 100x around it, so its time should stay flat.
Random windows change with the stage too (conversations get longer), so they are the
realistic figure, not the clean one.

Figures are wall-clock milliseconds per operation (median and p99 of --samples each),
including the asyncio and SQLAlchemy ORM overhead the app pays. Tokens are counted with a
cheap word-based stand-in; the app counts with the chat model's tokenizer, which adds its own
cost (see the output) to every append and to every window of a summarized conversation.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy
from sqlalchemy import event, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from agent.store.db import Conversation, ConversationKind, Message, Role, User, utcnow
from agent.store.engine import create_engine, redact_url, session_factory
from agent.store.memory import Memory
from agent.store.migrate import upgrade

Sessions = async_sessionmaker[AsyncSession]
Operation = Callable[[], Awaitable[None]]

PLATFORM = "discord"
# Messages left after the summary in a long conversation: the app folds messages into the
# summary once summary_batch (24) have fallen out of the window (~30 messages at 1536
# tokens here), so between ~30 and ~55 stay unsummarized.
UNSUMMARIZED_TAIL = 48
SUMMARY = (
    "The person is a hobby painter who likes dark seascapes and short free-verse poems. "
    "We made three poems about the harbour at night and an image of a lighthouse in fog; "
    "they preferred the second version, asked for fewer adjectives and a slower rhythm, and "
    "want to set the last poem to music with a cello."
)
# Words for synthetic chat texts: only their lengths and the row sizes matter here.
VOCABULARY = (
    "the a and of to in is it that you for on with as this my can make poem image song "
    "light dark sea night morning colour blue red gold grey soft warm cold quiet slow fast "
    "rhythm verse stanza line brush canvas sketch texture shadow fog harbour lighthouse cello "
    "piano melody chord minor major version darker brighter shorter longer again please try "
    "maybe more less like love feel think want see hear could would should about into over "
    "under through window rain storm wind river forest mountain city street lamp moon stars "
    "sun cloud wave stone glass paper ink oil watercolour charcoal portrait landscape still "
    "life abstract figure face hands eyes voice memory dream silence echo breath heart"
)
WORDS = VOCABULARY.split()


@dataclass(frozen=True)
class Config:
    url: str
    users: int = 10_000
    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    samples: int = 500
    budget: int = 1536
    probe_messages: int = 300
    warmup: int = 25  # untimed operations of each kind per stage: caches, prepared statements
    batch: int = 25_000  # rows per executemany; one commit each keeps the SQLite WAL small
    seed: int = 1


@dataclass(frozen=True)
class Population:
    conversation_ids: list[int]  # index i: the conversation of user_ids[i]
    user_ids: list[int]
    cum_weights: list[float]  # some people talk far more than others
    probe_id: int
    probe_user_id: int


@dataclass(frozen=True)
class TextPool:
    user: list[tuple[str, int]]  # (content, token_count)
    assistant: list[tuple[str, int]]


def approx_tokens(text: str) -> int:
    # Stand-in for the chat model's tokenizer: English runs ~4 tokens per 3 words.
    return max(1, len(text.split()) * 4 // 3)


TOKEN_COUNTER = "len(text.split()) * 4 // 3"


# ---------------------------------------------------------------------------------------------
# Synthetic chat texts


def _sentence(rng: random.Random, words: int) -> str:
    body = " ".join(rng.choice(WORDS) for _ in range(words))
    return body[0].upper() + body[1:] + rng.choice(".!?")


def _text(rng: random.Random, words: int) -> str:
    sentences, left = [], words
    while left > 0:
        n = min(left, rng.randint(5, 16))
        sentences.append(_sentence(rng, n))
        left -= n
    # Replies longer than a few sentences are often poems: one sentence a line.
    return ("\n" if words > 60 else " ").join(sentences)


def make_texts(rng: random.Random, size: int = 4096) -> TextPool:
    # Lognormal lengths: people type a few words (median ~10, tail past 100); replies run
    # longer (median ~45 words, tail to a few hundred).
    user = [_text(rng, min(200, max(1, int(rng.lognormvariate(2.3, 0.8))))) for _ in range(size)]
    reply = [_text(rng, min(400, max(3, int(rng.lognormvariate(3.8, 0.6))))) for _ in range(size)]
    return TextPool(
        user=[(t, approx_tokens(t)) for t in user],
        assistant=[(t, approx_tokens(t)) for t in reply],
    )


# ---------------------------------------------------------------------------------------------
# Filling the database (bulk core inserts; not measured)


async def insert_batches(
    engine: AsyncEngine, table: Any, rows: Sequence[dict[str, Any]], batch: int
) -> None:
    for start in range(0, len(rows), batch):
        async with engine.begin() as conn:
            await conn.execute(insert(table), list(rows[start : start + batch]))


async def create_population(engine: AsyncEngine, config: Config, rng: random.Random) -> Population:
    now = utcnow()
    users = [
        {
            "platform": PLATFORM,
            "external_id": str(10**17 + i),  # snowflake-sized ids
            "display_name": f"user{i}",
            "preferences": {},
            "created_at": now,
        }
        for i in range(config.users + 1)  # the last one owns the probe conversation
    ]
    await insert_batches(engine, User.__table__, users, config.batch)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(User.id).order_by(User.id))).scalars().all()
    user_ids = list(rows)
    conversations = [
        {
            "kind": ConversationKind.DIRECT.value,
            "platform": PLATFORM,
            "channel_id": str(2 * 10**17 + user_id),
            "owner_id": user_id,
            "created_at": now,
            "updated_at": now,
        }
        for user_id in user_ids
    ]
    await insert_batches(engine, Conversation.__table__, conversations, config.batch)
    async with engine.connect() as conn:
        query = select(Conversation.id, Conversation.owner_id).order_by(Conversation.owner_id)
        owned = {owner: cid for cid, owner in (await conn.execute(query)).all()}
    weights = list(itertools.accumulate(rng.lognormvariate(0, 1.0) for _ in range(config.users)))
    return Population(
        conversation_ids=[owned[u] for u in user_ids[:-1]],
        user_ids=user_ids[:-1],
        cum_weights=weights,
        probe_id=owned[user_ids[-1]],
        probe_user_id=user_ids[-1],
    )


def message_rows(
    rng: random.Random,
    texts: TextPool,
    conversations: Sequence[tuple[int, int]],
    count: int,
    start: datetime,
) -> list[dict[str, Any]]:
    """`count` messages as user/assistant pairs, one pair per (conversation, author) given."""
    rows: list[dict[str, Any]] = []
    for conversation_id, author_id in conversations:
        for role, pool, author in (
            (Role.USER, texts.user, author_id),
            (Role.ASSISTANT, texts.assistant, None),
        ):
            content, tokens = rng.choice(pool)
            rows.append(
                {
                    "conversation_id": conversation_id,
                    "author_id": author,
                    "role": role.value,
                    "content": content,
                    "token_count": tokens,
                    "created_at": start + timedelta(seconds=len(rows)),
                }
            )
    return rows[:count]


async def fill_probe(
    engine: AsyncEngine, config: Config, population: Population, texts: TextPool
) -> None:
    rng = random.Random(config.seed + 1)
    pairs = [(population.probe_id, population.probe_user_id)] * ((config.probe_messages + 1) // 2)
    start = utcnow() - timedelta(days=30)
    rows = message_rows(rng, texts, pairs, config.probe_messages, start)
    await insert_batches(engine, Message.__table__, rows, config.batch)
    await summarize_long_conversations(engine)


async def fill_messages(
    engine: AsyncEngine, config: Config, population: Population, texts: TextPool, count: int
) -> None:
    rng = random.Random(config.seed + count)
    start = utcnow() - timedelta(days=29)
    people = list(zip(population.conversation_ids, population.user_ids, strict=True))
    for done in range(0, count, config.batch):
        n = min(config.batch, count - done)
        pairs = rng.choices(people, cum_weights=population.cum_weights, k=(n + 1) // 2)
        rows = message_rows(rng, texts, pairs, n, start + timedelta(seconds=done))
        async with engine.begin() as conn:
            await conn.execute(insert(Message.__table__), rows)
    await summarize_long_conversations(engine)


async def summarize_long_conversations(engine: AsyncEngine) -> None:
    """Give each long conversation the rolling summary the app would have written by now."""
    # The newest UNSUMMARIZED_TAIL messages stay out of the summary; shorter histories
    # get none (the subquery finds no row, so summarized_through stays NULL).
    through = (
        select(Message.id)
        .where(Message.conversation_id == Conversation.id)
        .order_by(Message.id.desc())
        .offset(UNSUMMARIZED_TAIL)
        .limit(1)
        .scalar_subquery()
    )
    async with engine.begin() as conn:
        await conn.execute(update(Conversation).values(summarized_through=through))
        await conn.execute(
            update(Conversation)
            .where(Conversation.summarized_through.is_not(None))
            .values(summary=SUMMARY)
        )


async def count_messages(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(Message))).scalar_one()


# ---------------------------------------------------------------------------------------------
# The measured operations: the app's own code paths, one operation per call


@dataclass(frozen=True)
class Bench:
    sessions: Sessions
    memory: Memory
    population: Population
    texts: TextPool
    budget: int
    rng: random.Random

    def _someone(self) -> tuple[int, int]:
        i = self.rng.randrange(len(self.population.user_ids))
        return self.population.conversation_ids[i], self.population.user_ids[i]

    async def append(self) -> None:
        conversation_id, user_id = self._someone()
        content, _ = self.rng.choice(self.texts.user)
        message = self.memory.draft(Role.USER, content, author_id=user_id)
        async with self.sessions() as session, session.begin():
            await self.memory.append(session, conversation_id, message)

    async def store_turn(self) -> None:
        # As Agent._store: both messages and the conversation's updated_at in one transaction.
        conversation_id, user_id = self._someone()
        text, _ = self.rng.choice(self.texts.user)
        answer, _ = self.rng.choice(self.texts.assistant)
        question = self.memory.draft(Role.USER, text, author_id=user_id)
        reply = self.memory.draft(Role.ASSISTANT, answer)
        async with self.sessions() as session, session.begin():
            await self.memory.append(session, conversation_id, question, reply)

    async def window(self) -> None:
        await self.load_window(self._someone()[0])

    async def probe_window(self) -> None:
        await self.load_window(self.population.probe_id)

    async def select_one(self) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(select(1))

    async def load_window(self, conversation_id: int) -> tuple[int, int]:
        async with self.sessions() as session, session.begin():
            window = await self.memory.window(session, conversation_id, self.budget)
        return len(window.messages), window.tokens

    def operations(self) -> dict[str, Operation]:
        return {
            "append": self.append,
            "store turn": self.store_turn,
            "window": self.window,
            "probe window": self.probe_window,
            "select 1": self.select_one,
        }


async def measure(bench: Bench, config: Config) -> dict[str, list[float]]:
    operations = bench.operations()
    for name in operations:
        for _ in range(config.warmup):
            await operations[name]()
    schedule = [name for name in operations for _ in range(config.samples)]
    bench.rng.shuffle(schedule)
    timings: dict[str, list[float]] = {name: [] for name in operations}
    gc.collect()
    for name in schedule:
        operation = operations[name]
        start = time.perf_counter()
        await operation()
        timings[name].append(time.perf_counter() - start)
    return timings


# ---------------------------------------------------------------------------------------------
# Query plans of the window, as the real code sends it


async def window_plan(engine: AsyncEngine, bench: Bench) -> list[str]:
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM messages" in statement:
            captured.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        kept, tokens = await bench.load_window(bench.population.probe_id)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    lines = [f"probe window: {kept} messages, {tokens} tokens, {len(captured)} query(ies)"]
    async with engine.connect() as conn:
        for statement, parameters in captured:
            lines.append("  " + " ".join(statement.split()))
            lines.extend("    " + line for line in await _explain(conn, statement, parameters))
    return lines


async def _explain(conn: AsyncConnection, statement: str, parameters: Any) -> list[str]:
    if conn.dialect.name == "sqlite":
        result = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        return [row[-1] for row in result.all()]
    result = await conn.exec_driver_sql("EXPLAIN " + statement, parameters)
    return [row[0] for row in result.all()]


# ---------------------------------------------------------------------------------------------
# Reporting


def short(n: int) -> str:
    for unit, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= unit and n % unit == 0:
            return f"{n // unit}{suffix}"
    return f"{n:,}"


def p99(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def table(results: dict[int, dict[str, list[float]]]) -> list[str]:
    lines = [f"{'messages':>10}  {'operation':<13} {'median ms':>10} {'p99 ms':>9} {'n':>6}"]
    for size, timings in results.items():
        for name, values in timings.items():
            median = statistics.median(values) * 1e3
            lines.append(
                f"{size:>10,}  {name:<13} {median:>10.3f} {p99(values) * 1e3:>9.3f} "
                f"{len(values):>6}"
            )
    return lines


def verdicts(results: dict[int, dict[str, list[float]]]) -> list[str]:
    sizes = list(results)
    largest, smallest = results[sizes[-1]], results[sizes[0]]
    append = statistics.median(largest["append"]) * 1e3
    window = statistics.median(largest["window"]) * 1e3
    ratio = _median_ratio(largest, smallest, "probe window")
    # Load on a shared machine drifts between stages; dividing by the floor's own ratio
    # cancels a slowdown that hit every operation alike.
    floor = _median_ratio(largest, smallest, "select 1")
    at = f"at {short(sizes[-1])} messages"
    lines = [
        f"append median < 2 ms: {'yes' if append < 2 else 'no'} ({append:.3f} ms {at})",
        f"window median < 2 ms: {'yes' if window < 2 else 'no'} ({window:.3f} ms {at})",
    ]
    if len(sizes) < 2:
        return [*lines, "probe window ratio: needs two or more --sizes"]
    return [
        *lines,
        f"probe window {short(sizes[-1])}/{short(sizes[0])} ratio: {ratio:.2f}"
        f" ({ratio / floor:.2f} after dividing by the select 1 floor's ratio, {floor:.2f});"
        " about 1.00 means loading does not grow with total history",
    ]


def _median_ratio(
    numerator: dict[str, list[float]], denominator: dict[str, list[float]], name: str
) -> float:
    return statistics.median(numerator[name]) / statistics.median(denominator[name])


async def server_version(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            version = (await conn.exec_driver_sql("select sqlite_version()")).scalar_one()
            journal = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar_one()
            sync = (await conn.exec_driver_sql("PRAGMA synchronous")).scalar_one()
            return f"SQLite {version}, journal_mode={journal}, synchronous={sync} (1 = NORMAL)"
        return (await conn.exec_driver_sql("show server_version")).scalar_one()


def tokenizer_cost(texts: TextPool) -> str:
    # The app's tokenizer is not loaded here (it needs the chat model); this is the stand-in's
    # own cost, so a reader can see how little of each figure it accounts for.
    sample = [t for t, _ in texts.assistant[:500]]
    start = time.perf_counter()
    for text in sample:
        approx_tokens(text)
    per_call = (time.perf_counter() - start) / len(sample) * 1e6
    return (
        f"token counter: {TOKEN_COUNTER} (a stand-in, {per_call:.1f} us per reply). The app "
        "counts with the chat model's tokenizer once per appended message and once per "
        "window of a summarized conversation (the summary); a real tokenizer adds tens of "
        "microseconds each, not included in these figures."
    )


# ---------------------------------------------------------------------------------------------
# Main


async def run(config: Config) -> None:
    engine = create_engine(config.url)
    try:
        await _run(engine, config)
    finally:
        await engine.dispose()


async def _run(engine: AsyncEngine, config: Config) -> None:
    async with engine.connect() as conn:
        if (await conn.execute(select(func.count()).select_from(User))).scalar_one():
            sys.exit(f"{redact_url(config.url)} already has users; give an empty database")
    print(f"database: {redact_url(config.url)} ({await server_version(engine)})")
    print(
        f"python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
        f"{os.cpu_count()} CPUs; budget {config.budget} tokens, {config.samples} samples "
        f"per operation per stage, {config.warmup} warm-up each"
    )
    rng = random.Random(config.seed)
    texts = make_texts(rng)
    print(tokenizer_cost(texts))

    start = time.perf_counter()
    population = await create_population(engine, config, rng)
    await fill_probe(engine, config, population, texts)
    print(
        f"setup: {config.users:,} users and conversations, probe conversation of "
        f"{config.probe_messages} messages: {time.perf_counter() - start:.1f} s"
    )

    bench = Bench(
        sessions=session_factory(engine),
        memory=Memory(approx_tokens),
        population=population,
        texts=texts,
        budget=config.budget,
        rng=random.Random(config.seed + 2),
    )
    results: dict[int, dict[str, list[float]]] = {}
    for size in config.sizes:
        have = await count_messages(engine)
        start = time.perf_counter()
        await fill_messages(engine, config, population, texts, max(0, size - have))
        filled = time.perf_counter() - start
        rate = max(0, size - have) / filled if filled else 0.0
        print(f"fill to {size:,} messages: {filled:.1f} s ({rate:,.0f} rows/s)", flush=True)
        start = time.perf_counter()
        results[size] = await measure(bench, config)
        print(f"  measured at {size:,}: {time.perf_counter() - start:.1f} s", flush=True)

    print()
    print("\n".join(table(results)))
    print()
    print("\n".join(verdicts(results)))
    print()
    print(f"window query plan at {await count_messages(engine):,} messages:")
    print("\n".join(await window_plan(engine, bench)))


def parse_args(argv: Sequence[str] | None, workdir: str) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: a fresh SQLite file, deleted after)")
    parser.add_argument("--users", type=int, default=Config.users)
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=Config.sizes,
        help="message totals, comma-separated (default: 10000,100000,1000000)",
    )
    parser.add_argument("--samples", type=int, default=Config.samples, help="per op and stage")
    parser.add_argument("--budget", type=int, default=Config.budget, help="context tokens")
    args = parser.parse_args(argv)
    if args.samples < 2 or args.users < 1 or args.sizes[0] <= Config.probe_messages:
        parser.error(f"need --samples >= 2, --users >= 1, sizes > {Config.probe_messages}")
    url = args.url or f"sqlite+aiosqlite:///{workdir}/bench.db"
    return Config(
        url=url, users=args.users, sizes=args.sizes, samples=args.samples, budget=args.budget
    )


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = sorted({int(part) for part in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of whole numbers: {text!r}") from None
    return tuple(sizes)


def main(argv: Sequence[str] | None = None) -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="atelier-bench-") as workdir:
        config = parse_args(argv, workdir)
        # Alembic's env.py runs its own event loop, so migrate before starting ours.
        upgrade(config.url)
        asyncio.run(run(config))
    print(f"\ntotal run time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
