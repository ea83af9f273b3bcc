"""Server policy: what a server's admins set with /settings, stored and audited.

rules.py holds the policy as values and what it means for a turn at a place; words.py the
server's blocklist; store.py the rows and the audit; gate.py the cached checks transports
and the agent ask; commands.py the /settings command; listing.py how it is shown.
"""
