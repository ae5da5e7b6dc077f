#!/bin/sh
# Renders /etc/nginx/templates/*.template into /etc/nginx/conf.d with envsubst, substituting only
# the ${EDGE_*} variables 05-wapang-edge-env.envsh exported: nginx's own $host... stay intact.
set -eu
templates=${EDGE_TEMPLATE_DIR:-/etc/nginx/templates}
output=${EDGE_CONF_DIR:-/etc/nginx/conf.d}
variables=$(env | sed -n 's/^\(EDGE_[A-Z_]*\)=.*/${\1}/p' | tr '\n' ' ')
for template in "$templates"/*.template; do
    target="$output/$(basename "$template" .template)"
    envsubst "$variables" < "$template" > "$target"
    echo "$0: rendered $target"
done
