# Stand-in for nginx:1.28: Debian's nginx 1.22 with what deploy/nginx.Dockerfile expects of its
# base (envsubst, curl for the health check). Debian's own site is removed; wapang's image ships
# its own nginx.conf and entrypoint, so nothing of the official image's entrypoint is needed.
ARG BASE
FROM ${BASE}
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends nginx gettext-base curl \
    && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/* \
    && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
