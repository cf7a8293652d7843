#!/bin/sh
# Stores the ops token read on standard input as Prometheus's credentials, readable by its user only:
#   docker compose exec -T hub relais token create --role ops --subject prometheus --ttl-days 365 \
#     | docker compose --profile metrics exec -T prometheus set-ops-token
# Prometheus reads the file at every scrape: a new token (a rotation) needs no restart.
set -eu
umask 077
token=$(cat)
case "$token" in
    "" | *[[:space:]]*) echo "set-ops-token: expected one token on standard input" >&2; exit 2 ;;
esac
printf '%s' "$token" > /ops-token/ops.token.new
mv /ops-token/ops.token.new /ops-token/ops.token
echo "set-ops-token: stored in /ops-token/ops.token"
