"""Requests people make of the bot, each with the choice a router should make for it.

Written for the routing test before the creative tools existed; the test scores them against
the names and descriptions in tools/catalog.py, the lines the real tools carry. Varied on
purpose: verbs and no verbs, questions and orders, slang, a reference to a piece (#N), and
Chinese. The "revise" phrasings (written before that choice's examples) change a piece without
naming its kind. None of them is shown to the router as an example. "undo" / "撤销" are not
here: the agent reads them before routing (agent/undo.py `spoken_undo`, tests/agent/test_undo.py).
"""

from __future__ import annotations

PHRASINGS: dict[str, tuple[str, ...]] = {
    "poem": (
        "write me a poem about the sea at dawn",
        "can you do a haiku on autumn leaves",
        "a sonnet about leaving home, bitter but tender",
        "I'd love some verses about my grandmother's garden",
        "compose a limerick about a cat who hates Mondays",
        "写一首关于春天的诗",
        "four rhyming lines about the moon, please",
        "pen a short verse for my friend's birthday",
        "give me a free verse piece about city rain",
        "write a tanka about snow on the mountains",
        # A poem about the picture in focus (issue 19).
        "write a poem about this picture",
        "为这张图写一首诗",
    ),
    "image": (
        "draw a lighthouse in a storm",
        "paint a picture of a fox in the snow",
        "can you make an image of a neon city at night",
        "show me what a dragon made of glass would look like",
        "generate a picture of a cozy cabin, watercolor style",
        "I want an illustration of two koi fish circling",
        "sketch a portrait of an old sailor",
        "a sunset over purple mountains, oil painting",
        "render a photorealistic bowl of lemons",
        "画一只在月光下的猫",
        # A picture of the poem in focus (run once against the tools without IMAGE_FOR_A_POEM:
        # 6 of 8 went to music, whose poem description drew them; then its examples were written).
        "illustrate my poem",
        "draw a picture for the haiku",
        "paint what this poem describes",
        "make an image of poem #3",
        "a picture to go with these verses",
        "为这首诗配一幅画",
        "visualize the sonnet as a painting",
        "an illustration for the poem you wrote",
        # In the style of a reference picture (the one sent or in focus, or #N), or of the
        # person's own trained style (issue 19).
        "in the style of this",
        "in the style of #12",
        "in my watercolor style",
    ),
    "music": (
        "compose some rainy night jazz with slow brushes",
        "make music for a sad rainy afternoon",
        "I need a short piano melody, calm and slow",
        "can you play me an upbeat tune with drums",
        "generate a lo-fi beat to study to",
        "create a soundtrack for a spooky forest",
        "an orchestral piece, epic and triumphant",
        "give me some ambient synth sounds for meditation",
        "a blues guitar riff",
        "set my poem to music",
        # The poem in focus set to music, in a poem's words (first tried after the examples
        # of tools/catalog.py MUSIC_FOR_A_POEM were being written; none of them is one).
        "can this poem become a piece of music?",
        "I'd love to hear #4 sung",
        "write music that goes with these lines",
        "a soundtrack for the poem you just wrote",
        "给这首诗作曲",
        "make my haiku into a short tune",
        # Music for the picture in focus, and an uploaded tune followed (issue 19).
        "music for this picture",
        "为这张图配乐",
        "use this tune for a string quartet",
    ),
    "critique": (
        "critique my poem #3",
        "give me feedback on #12",
        "review the last picture you made",
        "how can I improve this poem?",
        "rate my drawing on technique and composition",
        "tell me the strengths and weaknesses of #5",
        "is the melody in #7 any good? be honest",
        "analyse the imagery and rhythm of my sonnet",
        "please evaluate this artwork's aesthetics",
        "what works and what doesn't in this painting?",
    ),
    "answer": (
        "hello! how are you today?",
        "what's your name?",
        "thanks, that was lovely",
        "who was Claude Monet?",
        "I'm feeling a bit down today",
        "what time is it in Tokyo?",
        "tell me a joke",
        "can you recommend a good book?",
        "what can you do?",
        "good night, talk tomorrow",
    ),
    # Changes to the piece in focus that name no kind: the piece's own tool revises it.
    "revise": (
        "make it darker",
        "can you make this one a bit more cheerful?",
        "shorter, please",
        "I'd like it calmer",
        "less busy, more space",
        "redo it with a warmer feeling",
        "change the ending so it's hopeful",
        "too gloomy, lighten it up",
        "把它改得更温柔一点",
        "push it further, bolder",
    ),
}
