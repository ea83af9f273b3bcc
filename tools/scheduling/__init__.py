"""The model scheduler: jobs for the same model and shape, from different people and sessions,
run as one batch (work.py: what a job is; line.py: who goes next; queue.py: one model's
line and the thread that runs it; scheduler.py: every model's, and the lanes tools use;
lane.py: how a tool hands its work over, or runs it alone; current.py: the same for model
work in helpers that are not handed the tool's context, such as a poem's text sampling).

It imports nothing of the rest of atelier: tools hand it Work through ToolContext.schedule,
and the agent builds it with a pace (measured seconds per shape) and the line people read.
"""
