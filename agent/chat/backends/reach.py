"""At start-up, before any turn: is the engine there, and which model does it serve?

One request (GET /models, which every OpenAI-compatible engine answers) with a short timeout,
so a wrong URL or a stopped engine is one line at start, not a failed first turn.
"""

from __future__ import annotations

import openai
from pydantic import SecretStr

from agent.chat.backends.served import NO_KEY, failure_line
from agent.config import StartupError

# Start-up waits this long at most per try; a turn's own requests use ATELIER_CHAT_TIMEOUT_S.
REACH_TIMEOUT_S = 10.0


async def served_model_name(
    base_url: str, key: SecretStr | None, wanted: str | None, timeout_s: float = REACH_TIMEOUT_S
) -> str:
    """The model to ask for: `wanted` when the engine serves it, else the only one it serves.

    Raises StartupError with one line when the engine cannot be reached or has no such model.
    """
    secret = key.get_secret_value() if key is not None else NO_KEY
    client = openai.AsyncOpenAI(base_url=base_url, api_key=secret, timeout=timeout_s, max_retries=0)
    try:
        served = [model.id async for model in client.models.list()]
    except openai.APIError as error:
        raise StartupError(failure_line(base_url, error, key, timeout_s)) from None
    finally:
        await client.close()
    return _chosen(base_url, served, wanted)


def _chosen(base_url: str, served: list[str], wanted: str | None) -> str:
    listed = ", ".join(served[:5]) + (" ..." if len(served) > 5 else "")
    if wanted is not None and (wanted in served or not served):
        return wanted  # an engine that lists nothing may still serve it: the first turn says
    if wanted is None and len(served) == 1:
        return served[0]
    if wanted is None:
        raise StartupError(
            f"the chat server at {base_url} serves {len(served)} models ({listed or 'none'}): "
            "name one in ATELIER_CHAT_MODEL_NAME"
        )
    raise StartupError(
        f"the chat server at {base_url} does not serve {wanted!r} (it serves {listed}): "
        "fix ATELIER_CHAT_MODEL_NAME"
    )
