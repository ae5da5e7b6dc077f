# The certificate manager: `wapang certs run` drives certbot (webroot) within the ledger's budget.
# Build from the repository root:  docker build -f deploy/certbot.Dockerfile -t wapang-certbot .
#
# Not FROM the official certbot/certbot image: that image brings its own certbot release and
# unlocked Python dependencies (Alpine, musl). Here certbot is the version in uv.lock's "edge"
# group, the very one tests/edge runs against pebble, and the manager shares the app's lock.
# Base images are build arguments whose defaults are pinned by version AND digest (DEPLOY.md says
# where each was verified); offline builds pass local stand-ins (deploy/standins/build.sh).
# UV_IMAGE's version is the one in pyproject.toml's [tool.uv] required-version: uv refuses any other.
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.0@sha256:cdc6093146eb3ff6a40107b38f008b789e050e77ad87865e381d9917da55a168
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

FROM ${UV_IMAGE} AS uv

FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/wapang
WORKDIR /src
# An optional build secret "ca" (a TLS-inspecting proxy's CA bundle) is trusted for PyPI only in
# these steps; it never lands in a layer.
# --no-dev keeps the "edge" group (certbot, acme) and drops the test tools.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv --mount=type=secret,id=ca \
    if [ -f /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca; fi \
    && uv sync --frozen --no-dev --no-install-project
# uv's cache keys a local project by pyproject.toml only: without the refresh, a cached wheel of
# an older checkout (same version) would be installed instead of these sources.
COPY wapang ./wapang
RUN --mount=type=cache,target=/root/.cache/uv --mount=type=secret,id=ca \
    if [ -f /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca; fi \
    && uv sync --frozen --no-dev --no-editable \
    --refresh-package wapang --reinstall-package wapang

FROM ${PYTHON_IMAGE} AS runtime
COPY --from=build /opt/wapang /opt/wapang
ENV PATH=/opt/wapang/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# Runs as root like the official certbot image: it shares /etc/letsencrypt with nginx's
# entrypoint (root), and certbot keeps private keys 0600 there. It has no Docker socket and no
# published port; it reaches nginx only through the reload marker in the shared volume.
WORKDIR /etc/letsencrypt
VOLUME ["/etc/letsencrypt", "/var/www/certbot"]
# Unhealthy when renewal is not happening (under 14 days left, or the last two attempts failed):
# `docker compose ps` shows it long before the site breaks. Nothing waits on this state.
HEALTHCHECK --interval=5m --timeout=30s --start-period=15m --retries=1 \
    CMD ["wapang", "certs", "status"]
ENTRYPOINT ["wapang", "certs"]
CMD ["run"]
