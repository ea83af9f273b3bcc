"""Pictures too big for Discord's upload limit, made smaller so they can still be sent.

A PNG of a large upscale can pass the limit a server or an interaction reports (10 MiB by
default). Rather than only naming such a file, it is sent as a JPEG, scaled down by a quarter
at a time until it fits; the piece itself stays as it was in the media store.
"""

from __future__ import annotations

import io

from PIL import Image

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp"})
JPEG_QUALITY = 90
SMALLEST_SIDE = 64  # below this a picture is no use to anyone; send what there is


def shrunk_to_fit(data: bytes, limit_bytes: int) -> bytes:
    """The picture as a JPEG of at most `limit_bytes`, at the largest size (in steps of 3/4)
    that fits; the smallest tried when even that does not fit."""
    with Image.open(io.BytesIO(data)) as opened:
        picture = opened.convert("RGB")
    while True:
        encoded = io.BytesIO()
        picture.save(encoded, "JPEG", quality=JPEG_QUALITY)
        if encoded.tell() <= limit_bytes or min(picture.size) * 3 // 4 < SMALLEST_SIDE:
            return encoded.getvalue()
        size = (picture.width * 3 // 4, picture.height * 3 // 4)
        picture = picture.resize(size, Image.Resampling.LANCZOS)
