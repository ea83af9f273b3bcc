"""The job ledger: one row per tool run (`Job`, models.py).

A row is written, in state running, before the tool starts, so a process killed mid-run leaves
a trace; a run that made nothing ends failed or cancelled, with the seconds the tool ran
(`JobLedger`, record.py), and one that made its piece ends done in the very transaction that
stores the piece, which only one process can do (claim.py). The rows are what the quotas count
(quotas.py), and at start-up the rows an earlier process left running become interrupted,
each told to its owner at its place once a transport is back (interrupted.py); a job run by a
NATS worker may instead finish while the bot restarts, and its owner is told then (owed.py,
after agent/scaleout/unclaimed.py stored it).
"""
