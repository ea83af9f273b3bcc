"""Rendering a Reply as Discord messages: the 2,000-character limit, code blocks, files."""

from __future__ import annotations

import io
import os
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from agent.types import MadeArtifact, Reply
from bot.discord.render import MESSAGE_LIMIT, render_reply, split_text
from bot.discord.shrink_images import shrunk_to_fit

MIB = 1024 * 1024


def fences_balanced(part: str) -> bool:
    return sum(line.lstrip().startswith("```") for line in part.split("\n")) % 2 == 0


def test_a_short_text_is_one_message_and_nothing_is_no_message() -> None:
    assert split_text("hello\nthere") == ["hello\nthere"]
    assert split_text("") == []


def test_a_code_block_that_would_straddle_the_limit_moves_whole_to_the_next_message() -> None:
    prose = "\n".join(f"line {i} " + "words " * 14 for i in range(20))  # about 1,800
    code = "```python\n" + "\n".join(f"x{i} = {i}" for i in range(30)) + "\n```"
    parts = split_text(f"{prose}\n{code}\nafter")
    assert parts[0] == prose
    assert parts[1] == f"{code}\nafter"


def test_a_code_block_longer_than_a_message_is_closed_and_reopened() -> None:
    lines = [f"print('line {i:04d} of a very long program')" for i in range(200)]  # 8,600
    parts = split_text("Here it is:\n```python\n" + "\n".join(lines) + "\n```")
    assert len(parts) == 5
    assert all(len(part) <= MESSAGE_LIMIT for part in parts)
    assert parts[0].startswith("Here it is:\n```python\n")
    assert all(part.split("\n")[-1] == "```" for part in parts)
    assert all(part.startswith("```python\n") for part in parts[1:])
    # Every line of code arrives once, in order, none cut.
    code = [line for part in parts for line in part.split("\n") if line.startswith("print")]
    assert code == lines


def test_a_line_longer_than_a_message_is_cut_between_words() -> None:
    words = " ".join(f"word{i}" for i in range(800))  # one 6,000-character line
    parts = split_text(words)
    assert all(len(part) <= MESSAGE_LIMIT for part in parts)
    assert " ".join(parts) == words


@given(
    st.lists(
        st.one_of(
            st.text(alphabet="ab c", max_size=70),
            st.sampled_from(["```", "```py", "  ```", "x```y"]),
        ),
        max_size=60,
    )
)
def test_every_part_fits_and_no_part_leaves_a_code_block_open(lines: list[str]) -> None:
    text = "\n".join(lines)
    if not fences_balanced(text):
        text += "\n```"
    parts = split_text(text, limit=60)
    assert all(len(part) <= 60 for part in parts)
    assert all(fences_balanced(part) for part in parts)
    if "```" not in text and text:
        # Only whitespace at cuts can go; every word arrives, in order.
        assert "".join(parts).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace(
            "\n", ""
        )


def test_pieces_are_numbered_with_their_files_attached(tmp_path: Path) -> None:
    image = tmp_path / "ab" / "cafe.png"
    image.parent.mkdir()
    image.write_bytes(b"png")
    reply = Reply(
        "Here you are.",
        artifacts=(
            MadeArtifact(3, "image", f"#3 image {image}", image),
            MadeArtifact(4, "poem", "#4 poem Herons wait"),
        ),
    )
    [message] = render_reply(reply, file_limit_bytes=MIB)
    # Numbers to refer to; never the file's path on the server.
    assert message.content == "Here you are.\n#3 image\n#4 poem Herons wait"
    assert [(f.filename, f.path) for f in message.files] == [("atelier-3.png", image)]
    assert message.artifacts == (3, 4)


def test_a_clip_comes_with_its_preview_picture(tmp_path: Path) -> None:
    clip, preview = tmp_path / "clip.ogg", tmp_path / "wave.png"
    clip.write_bytes(b"ogg")
    preview.write_bytes(b"png")
    made = MadeArtifact(6, "music", "#6 music", clip, files={"preview": preview, "wav": clip})
    [message] = render_reply(Reply("A tune.", artifacts=(made,)), file_limit_bytes=MIB)
    assert [f.filename for f in message.files] == ["atelier-6.ogg", "atelier-6-preview.png"]


def test_a_picture_over_the_limit_is_sent_as_a_smaller_jpeg(tmp_path: Path) -> None:
    noise = Image.frombytes("RGB", (1024, 1024), os.urandom(1024 * 1024 * 3))
    big = tmp_path / "big.png"
    noise.save(big)
    assert big.stat().st_size > MIB
    made = MadeArtifact(7, "image", f"#7 image {big}", big)
    [message] = render_reply(Reply("", artifacts=(made,)), file_limit_bytes=MIB)
    [file] = message.files
    assert (file.filename, file.shrink_to) == ("atelier-7.jpg", MIB)
    assert message.content.startswith("#7 image (sent smaller: the file is")
    sent = shrunk_to_fit(big.read_bytes(), MIB)
    assert len(sent) <= MIB and Image.open(io.BytesIO(sent)).format == "JPEG"
    assert Image.open(io.BytesIO(sent)).size[0] >= 512  # smaller, not a thumbnail


def test_a_file_over_the_limit_is_named_instead_of_attached(tmp_path: Path) -> None:
    song = tmp_path / "song.wav"
    song.write_bytes(b"\0" * (MIB + MIB // 2))
    reply = Reply(
        "A song.",
        artifacts=(MadeArtifact(5, "music", "#5 music rain", song),),
    )
    [message] = render_reply(reply, file_limit_bytes=MIB)
    assert message.files == ()
    assert message.content == "A song.\n#5 music (the file is 1.5 MiB, over the 1.0 MiB limit here)"


def test_pieces_after_a_long_text_come_in_their_own_message(tmp_path: Path) -> None:
    text = "\n".join("a line of words that goes on " * 3 for _ in range(22))  # 1,935
    images = []
    for number in range(12):
        path = tmp_path / f"{number}.png"
        path.write_bytes(b"png")
        images.append(MadeArtifact(number + 1, "image", f"#{number + 1} image {path}", path))
    messages = render_reply(Reply(text, artifacts=tuple(images)), file_limit_bytes=MIB)
    assert [len(m.files) for m in messages] == [0, 10, 2]  # Discord takes 10 files a message
    assert messages[0].content == text
    assert messages[1].content == "\n".join(f"#{n} image" for n in range(1, 13))
    assert messages[1].artifacts == tuple(range(1, 13))
