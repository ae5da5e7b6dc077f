# The certificate manager: `wapang certs run` drives certbot (webroot) within the ledger's budget.
# Build from the repository root:  docker build -f deploy/certbot.Dockerfile -t wapang-certbot .
#
# Not FROM the official certbot/certbot image: that image brings its own certbot release and
# unlocked Python dependencies (Alpine, musl). Here certbot is the version in uv.lock's "edge"
# group, the very one tests/edge runs against pebble, and the manager shares the app's lock.

FROM ghcr.io/astral-sh/uv:0.13.0@sha256:cdc6093146eb3ff6a40107b38f008b789e050e77ad87865e381d9917da55a168 AS uv

FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS build
COPY --from=uv /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/wapang
WORKDIR /src
# --no-dev keeps the "edge" group (certbot, acme) and drops the test tools.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project
COPY wapang ./wapang
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS runtime
COPY --from=build /opt/wapang /opt/wapang
ENV PATH=/opt/wapang/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# Runs as root like the official certbot image: it shares /etc/letsencrypt with nginx's
# entrypoint (root), and certbot keeps private keys 0600 there. It has no Docker socket and no
# published port; it reaches nginx only through the reload marker in the shared volume.
WORKDIR /etc/letsencrypt
VOLUME ["/etc/letsencrypt", "/var/www/certbot"]
ENTRYPOINT ["wapang", "certs"]
CMD ["run"]
