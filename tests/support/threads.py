"""One torch thread for the tests of tiny models (MusicGen, the UNet): their operations take
microseconds, so on a shared two-core machine a second intra-op thread only adds hand-offs
(about ten times slower, measured). A test module takes it by importing `one_thread`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
