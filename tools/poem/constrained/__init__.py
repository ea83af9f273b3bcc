"""Form-constrained decoding for poems: the model is kept inside the form while it writes.

Each candidate row walks a state machine over words, not tokens (lines.py): the line so far,
the word being spelt, and the syllables (English) or Han characters (Chinese) it counts. At
every step the likeliest tokens are checked exactly against that state; the ones that would
overshoot the count, spell no real word, are junk (digits, markup, other scripts), end a line
mid-word or on a function word, or repeat a line are dropped; the line break comes when the
count is met; and a line that must rhyme ends on a real rhyme of its partner, reached through
the tokens that spell it (rows.py, decode.py). The poem tool and its revisions write with it
(write.py).
"""
