"""Cancel: a person (or their session's host) stops a tool run that is going on.

The studio registers each run while it is in the works (running.py `RunningJobs`): its job
id, its owner, and the flag its tool checks between steps (ToolContext.cancelled, which makes
`context.check()` raise Cancelled). The transport learns the job id with the progress
(agent/types.py `ShowsJobs`), so Discord's Cancel button carries it; `/cancel` is the
Command the agent answers (command.py). A cancelled run stores nothing: no piece, no file, no
message; its turn is answered "Cancelled; nothing was stored." and the ledger records it as
cancelled.
"""
