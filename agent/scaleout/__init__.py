"""Scale-out on NATS JetStream (ATELIER_JOBS=nats://host:4222): tool jobs published by the bot,
run by `atelier worker` processes (one per GPU), their results collected back by the bot.

  subjects.py   the names: streams, subjects, buckets, and a tool's job kind
  envelope.py   a job and its result as JSON: what travels between bot and worker
"""
