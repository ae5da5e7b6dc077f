# Stand-in for ghcr.io/letsencrypt/pebble: Debian's pebble binary (installed on the host).
ARG BASE
FROM ${BASE}
COPY pebble /usr/bin/pebble
ENTRYPOINT ["/usr/bin/pebble"]
