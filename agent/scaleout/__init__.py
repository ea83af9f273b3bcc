"""Scale-out on NATS JetStream (ATELIER_JOBS=nats://host:4222): tool jobs published by the bot,
run by `atelier worker` processes (one per GPU), their results collected back by the bot.

  subjects.py   the names: streams, subjects, buckets, and a tool's job kind
  envelope.py   a job and its result as JSON: what travels between bot and worker
  setup.py      the transport from Settings; connecting, NATS unreachable in one line
  streams.py    the streams, consumers and buckets, created or brought up to date
  runner.py     the bot's side: a run published as a job, its result awaited (results.py)
  outcomes.py   a result as the caller sees it: the draft, or what a local run raises
  worker.py     `atelier worker`: pulling.py takes jobs, running.py runs one, serving.py builds it
  media.py      a job's files as MediaRefs: a shared directory or the object store (carrying.py)
  unclaimed.py  a result that came while the bot restarted: stored once, its owner told
"""
