#!/bin/sh
# Run by the image's entrypoint before nginx starts:
#  1. nginx can only start with a certificate behind $EDGE_TLS_DIR: the placeholder, or the issued
#     one. Both are made by the certificate manager (`wapang certs bootstrap`, compose's certs-init
#     service, before nginx starts): one implementation of the placeholder, in Python;
#  2. start the watcher that reloads nginx, after `nginx -t`, when the manager rewrites the
#     marker file in the shared volume (no Docker socket anywhere).
set -eu

state=${EDGE_STATE_DIR:?run 05-wapang-edge-env.envsh first}
if [ ! -e "$state/current/fullchain.pem" ]; then
    echo "$0: no certificate in $state/current (not even the placeholder): the certs-init" \
        "service makes it; run \`docker compose up certs-init\` (same volume) first" >&2
    exit 1
fi

if [ "${EDGE_START_WATCHER:-1}" = 1 ]; then
    "$(dirname "$0")/wapang-cert-watch" &
    echo "$0: watching $state/reload-nginx for certificate changes (pid $!)"
fi
