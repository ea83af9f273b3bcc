"""Our own MusicGen decode loop around the transformers modules (generate() in transformers
5.25 builds no static cache, so its steps are Python- and launch-bound): a static KV cache,
cross-attention keys and values computed once, guidance in the batch, the model's own delay
pattern, top-k sampling on the device, and on CUDA a CUDA graph per step shape.

  music.py    processor inputs in, audio out: generate()'s replacement (generate_audio)
  loop.py     the loop over the steps of a clip (decode_codes)
  step.py     one decoder step over fixed buffers
  state.py    those buffers, and what one clip loads into them
  cache.py    the static self-attention cache and the text's cross-attention keys/values
  pattern.py  the codebook delay pattern, built by the model's own methods
  sampling.py guidance, greedy and top-k choices, noise from a torch.Generator
  inputs.py   the text encoder's output and the start ids, prepared as generate() does
  runners.py  eager steps, or CUDA graphs per (rows, length bucket, text bucket)
"""
