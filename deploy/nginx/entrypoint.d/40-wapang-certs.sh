#!/bin/sh
# Run by the official image's /docker-entrypoint.sh before nginx starts:
#  1. nginx must start even when no certificate exists yet: put a self-signed placeholder behind
#     $EDGE_TLS_DIR (a symlink the certificate manager later points at certbot's live dir);
#  2. start the watcher that reloads nginx, after `nginx -t`, when the manager rewrites the
#     marker file in the shared volume (no Docker socket anywhere).
# Needs openssl in the image (the official nginx image does not ship the openssl binary).
set -eu

state=${EDGE_STATE_DIR:?run 05-wapang-edge-env.envsh first}
current="$state/current"
mkdir -p "$state"

if [ ! -e "$current/fullchain.pem" ]; then
    placeholder="$state/placeholder"
    mkdir -p "$placeholder"
    first=${EDGE_SERVER_NAMES%% *}
    # shellcheck disable=SC2086  # one DNS: entry per name
    san=$(printf 'DNS:%s,' $EDGE_SERVER_NAMES)
    openssl req -x509 -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 30 \
        -keyout "$placeholder/privkey.pem" -out "$placeholder/fullchain.pem" \
        -subj "/O=wapang placeholder/CN=$first" -addext "subjectAltName=${san%,}" 2>/dev/null
    chmod 600 "$placeholder/privkey.pem"
    ln -sfn placeholder "$current"  # relative: resolves in every container mounting the volume
    echo "$0: no certificate yet; nginx starts with a self-signed placeholder for $first"
fi

if [ "${EDGE_START_WATCHER:-1}" = 1 ]; then
    "$(dirname "$0")/wapang-cert-watch" &
    echo "$0: watching $state/reload-nginx for certificate changes (pid $!)"
fi
