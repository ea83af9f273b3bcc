"""Where the chat model runs: in this process (agent/chat/model.py, transformers) or in a serving
engine reached over the OpenAI API (served.py: vLLM, SGLang, llama.cpp's server, Ollama).
Both are LangChain chat models that stream (streaming.py) and count tokens without a server.
"""
