"""A person's own trained styles and what a run draws on besides its focus (issue 19):
the pictures a style learns from, a style named by name, a person's own poems as their voice
(resolution.py); the person's styles and their lines (listing.py); /style list and /style
delete, the actions no tool runs (commands.py)."""
