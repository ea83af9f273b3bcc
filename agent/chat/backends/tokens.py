"""Token counts for a chat model whose tokenizer lives on a server.

The context window (agent/store/memory.py) is budgeted in tokens before each turn, and asking
the server to count would cost a request per message (few engines offer it: vLLM's /tokenize,
llama.cpp's /tokenize, not Ollama or SGLang's OpenAI API). tiktoken would be no better: its
encodings are OpenAI's, not the served model's, and it downloads them on first use. So the
count is an estimate that errs high, which only makes the window a little shorter: at least one
token per word or punctuation mark, and at least one per three UTF-8 bytes (English BPE
vocabularies average about four characters a token, CJK text about one token a character, or
three bytes). What a reply really cost is the server's own usage figure on the AIMessage.
"""

from __future__ import annotations

import math
import re

# A word (letters, digits, underscore: any script) or one mark that is neither.
_PIECES = re.compile(r"\w+|[^\w\s]")
_BYTES_PER_TOKEN = 3


def estimate_tokens(text: str) -> int:
    """An upper estimate of the tokens `text` takes in a typical BPE vocabulary."""
    if not text:
        return 0
    pieces = sum(1 for _ in _PIECES.finditer(text))
    by_bytes = math.ceil(len(text.encode("utf-8", "surrogatepass")) / _BYTES_PER_TOKEN)
    return max(pieces, by_bytes)
