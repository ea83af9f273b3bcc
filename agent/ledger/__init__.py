"""The job ledger: one row per tool run (`Job`, models.py).

A row is written, in state running, before the tool starts, so a process killed mid-run leaves
a trace; the run's end makes it done or failed, with the seconds the tool ran
(`JobLedger`, record.py). The rows are what the quotas count (quotas.py), and at start-up the
rows an earlier process left running become interrupted, each told to its owner at its place
once a transport is back (interrupted.py).
"""
