#!/usr/bin/env bash
# Is a NATS server with JetStream answering at $1 (nats://[user@]host[:port])? Silent when it
# is; else one line on stderr and exit 1. A TCP connect and the INFO line every NATS server
# sends first, read with bash's /dev/tcp: no client to install.
set -uo pipefail
url="${1:?usage: nats_ready.sh nats://host:port}"

where="${url#*://}"
where="${where##*@}"
where="${where%%/*}"
host="${where%:*}"
port="${where##*:}"
if [ "$host" = "$where" ]; then port=4222; fi

info=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && head -n 1 <&3' "$host" "$port" 2>/dev/null)
if [[ "$info" != INFO* ]]; then
  echo "ci: NATS is not answering on $host:$port; the NATS tests cannot run (start nats-server -js)" >&2
  exit 1
fi
if [[ "$info" != *'"jetstream":true'* ]]; then
  echo "ci: NATS on $host:$port answers without JetStream; the NATS tests need nats-server -js" >&2
  exit 1
fi
