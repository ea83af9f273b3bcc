"""With ATELIER_JOBS=nats://...: what a run draws on (a style's pictures, the person's
trained style with its weights, their poems as voice) reaches the worker's ToolContext, and
the tool there makes what it makes in the bot's own process. Both media modes: files in a
shared directory, and objects (each input under a name of its own)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from agent.scaleout.setup import MediaMode
from agent.scaleout.subjects import Names
from agent.store.db import Artifact
from tests.agent.scaleout.test_through_the_agent import sent_to_nats
from tests.agent.styles.drawing_tools import ODE, RECALL, STYLE_TOOL
from tests.agent.styles.test_drawing import pieces, sketches
from tests.support.nats_running import transport_for, worker_running
from tests.support.studio_tools import SKETCH
from tests.support.workshop import MakeWorkshop


@pytest.mark.parametrize("media", ["shared", "object"])
async def test_sources_style_and_voice_reach_a_worker(
    make_studio: MakeWorkshop, nats_url: str, nats_names: Names, media: MediaMode
) -> None:
    studio = make_studio([STYLE_TOOL, RECALL, SKETCH, ODE])
    numbers = await sketches(studio, 4)
    await studio.command(f"/style train name=ink from_pieces={pieces(numbers)}")
    await studio.command("/ode gulls")
    await studio.command("/ode nets", user="bob")
    ask = f"/recall from_pieces={pieces(numbers[:2])} style_name=ink voice=true"
    here = await studio.command(ask)
    assert "voice ode on gulls" in (here.text or "") and "style none" not in (here.text or "")
    async with studio.sessions() as session, session.begin():  # not part of the voice next
        await session.execute(delete(Artifact).where(Artifact.id == here.artifacts[0].number))
    runner = await sent_to_nats(
        studio, transport_for(nats_url, nats_names, studio.media.root, media)
    )
    try:
        async with worker_running(runner.transport, tools=(RECALL,)):
            there = await studio.command(ask)
    finally:
        await runner.close()
    assert there.text == here.text
