"""The image tool's upload reader: a picture someone sends, checked and kept as PNG, to vary,
refine or upscale like one the bot made."""

from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

from tools.contract import Media, UploadReader, UploadRejected
from tools.units import MIB

PNG = "image/png"
MAX_UPLOAD_BYTES = 10 * MIB
MAX_UPLOAD_SIDE = 4096
UPLOAD_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp")


def read_upload(data: bytes) -> Media:
    """An uploaded picture checked and kept as PNG (turned upright, flattened on white)."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRejected(
            f"that file is {len(data) / 1024 / 1024:.1f} MiB; images up to 10 MiB are accepted"
        )
    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
            if max(width, height) > MAX_UPLOAD_SIDE:
                raise UploadRejected(
                    f"that image is {width}x{height} pixels; up to "
                    f"{MAX_UPLOAD_SIDE}x{MAX_UPLOAD_SIDE} are accepted"
                )
            opened.seek(0)  # the first frame of an animation
            image = ImageOps.exif_transpose(opened)
            image.load()
    except UploadRejected:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise UploadRejected(
            "that file is not an image I can read (PNG, JPEG, WebP, GIF or BMP)"
        ) from None
    buffer = io.BytesIO()
    _flatten(image).save(buffer, format="PNG")
    return Media(buffer.getvalue(), PNG)


def _flatten(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, "white")
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


IMAGE_UPLOADS = UploadReader(UPLOAD_TYPES, read_upload)
