# The HTTPS edge: the official nginx image with wapang's templates and entrypoint scripts baked
# in, so no configuration file can be missing on the host. Build from the repository root:
#   docker build -f deploy/nginx.Dockerfile -t wapang-nginx .
# At start the image's entrypoint runs /docker-entrypoint.d/* (ours derive the EDGE_* values from
# DOMAINS/UPSTREAM and put a placeholder certificate in place) and renders
# /etc/nginx/templates/*.template into /etc/nginx/conf.d with envsubst.

FROM nginx:1.28.1@sha256:185920f18bb13f030b6c4c5f1dd728aed4efd483a81dab29c559b8c9e3ca4c65

# Only ${EDGE_*} placeholders are substituted; nginx's own $host, $remote_addr... stay intact.
ENV NGINX_ENVSUBST_FILTER=^EDGE_
# openssl makes the placeholder certificate (40-wapang-certs.sh); the image does not ship it.
# Its version is whatever the digest-pinned base's Debian release carries: security updates only.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends openssl \
    && rm -rf /var/lib/apt/lists/* /etc/nginx/conf.d/default.conf
COPY deploy/nginx/templates/ /etc/nginx/templates/
COPY --chmod=0755 deploy/nginx/entrypoint.d/ /docker-entrypoint.d/
EXPOSE 80 443
STOPSIGNAL SIGQUIT
