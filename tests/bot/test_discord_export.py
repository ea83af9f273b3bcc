"""/export on Discord: the person's zip attached to an answer only they see, with their own
piece in it; someone with nothing is told so in one private line."""

from __future__ import annotations

import io
import json
import zipfile

from agent.personal_export import DOCUMENT
from agent.personal_export.command import NOTHING
from tests.bot.test_discord_commands import Stage, fake, stage  # noqa: F401 - fixtures


async def test_export_attaches_the_askers_zip_privately(stage: Stage) -> None:  # noqa: F811
    async with stage() as scene:
        await scene.answered(await scene.slash(scene.ada, "poem", prompt="gulls"))
        await scene.answered(await scene.slash(scene.bob, "poem", prompt="bob's harbour"))
        exported = await scene.answered(await scene.slash(scene.ada, "export"))
        nothing = await scene.answered(await scene.slash(scene.fake.user("cy"), "export"), 0)
        [ada_piece, _] = await scene.artifacts()

    assert exported.deferred and exported.private
    [sent] = exported.followups
    assert sent.ephemeral and sent.content.startswith("Your export: 1 conversation, ")
    [file] = sent.files
    assert file.filename == "atelier-export.zip"
    document = json.loads(zipfile.ZipFile(io.BytesIO(file.data)).read(DOCUMENT))
    assert [piece["number"] for piece in document["pieces"]] == [ada_piece.id]
    assert "bob's harbour" not in json.dumps(document)
    assert nothing.private and nothing.edits[-1].content == NOTHING
