"""PNG encoding in worker processes, so the threads that drive the GPU never wait for zlib.

Encoding a 512x512 picture with its parameters chunk takes tens of milliseconds of one core:
on a GPU that makes a picture in a few, an encoder in the same process would hold the GIL the
GPU thread needs to launch its next kernels. The pool is created on first use, with the spawn
start method (forking a process that holds CUDA state, model weights and threads is unsafe),
and shut down with `shutdown_png_pool` when atelier closes (agent/factory.py).

The workers run png_params.png_bytes, so the bytes are the same as encoding in the thread.
When the pool cannot be had (processes cannot be started here) or a worker dies, the pictures
are encoded in the calling thread instead, and the pool is made again on the next call.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from PIL import Image

from tools.image.png_params import GenerationParameters, png_bytes

logger = logging.getLogger(__name__)

# Enough to encode a batch's pictures side by side; each worker is a Python process of its own.
MAX_WORKERS = 4

_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def encode_pngs(items: Sequence[tuple[Image.Image, GenerationParameters]]) -> list[bytes]:
    """Each picture as PNG with its parameters, in the pool's processes, in order."""
    pool = _the_pool()
    if pool is None:
        return [png_bytes(image, params) for image, params in items]
    try:
        futures = [pool.submit(png_bytes, image, params) for image, params in items]
        return [future.result() for future in futures]
    except (BrokenProcessPool, OSError) as broken:
        logger.warning("the PNG encoding pool failed (%s); encoding in this thread", broken)
        _drop(pool)
        return [png_bytes(image, params) for image, params in items]


def shutdown_png_pool() -> None:
    """Stop the workers (atelier is closing); a later call starts a new pool."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def _the_pool() -> ProcessPoolExecutor | None:
    global _pool
    with _pool_lock:
        if _pool is None:
            try:
                _pool = ProcessPoolExecutor(
                    max_workers=_workers(), mp_context=multiprocessing.get_context("spawn")
                )
            except (OSError, ValueError) as why:  # no processes or semaphores to be had here
                logger.warning("no PNG encoding pool (%s); encoding in the calling thread", why)
                return None
        return _pool


def _drop(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def _workers() -> int:
    return max(1, min(MAX_WORKERS, (os.cpu_count() or 2) // 2))
