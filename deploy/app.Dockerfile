# The API image: `wapang serve` (default), `wapang db upgrade` (compose's migrate service),
# `wapang db backup` (the backup service),
# `wapang check-config` and `wapang verify` (deploy.sh). Build from the repository root:
#   docker build -f deploy/app.Dockerfile -t wapang-app .
# Base images are build arguments whose defaults are pinned by version AND digest (DEPLOY.md says
# where each was verified); offline builds pass local stand-ins (deploy/standins/build.sh).
# UV_IMAGE's version is the one in pyproject.toml's [tool.uv] required-version: uv refuses any other.
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.0@sha256:cdc6093146eb3ff6a40107b38f008b789e050e77ad87865e381d9917da55a168
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

FROM ${UV_IMAGE} AS uv

FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /bin/uv
# Bytecode compiled at build time (read-only image at run time); the venv outside the source tree;
# never download a Python: the image's interpreter is the one the venv links to.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/wapang
WORKDIR /src
# An optional build secret "ca" (a TLS-inspecting proxy's CA bundle) is trusted for PyPI only in
# these steps; it never lands in a layer.
# Dependencies first (exactly uv.lock, no dev tools, no certbot): cached until the lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv --mount=type=secret,id=ca \
    if [ -f /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca; fi \
    && uv sync --frozen --no-dev --no-group edge --no-install-project
# uv's cache keys a local project by pyproject.toml only: without the refresh, a cached wheel of
# an older checkout (same version) would be installed instead of these sources.
COPY wapang ./wapang
RUN --mount=type=cache,target=/root/.cache/uv --mount=type=secret,id=ca \
    if [ -f /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca; fi \
    && uv sync --frozen --no-dev --no-group edge --no-editable \
    --refresh-package wapang --reinstall-package wapang

FROM ${PYTHON_IMAGE} AS runtime
# mariadb-dump and mariadb: `wapang db backup` and `wapang db restore` on MySQL/MariaDB (the
# compose backup service runs this image). Debian's client package; no apt cache left behind.
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends mariadb-client \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 wapang \
    && useradd --system --uid 10001 --gid wapang --home-dir /nonexistent --shell /usr/sbin/nologin wapang
# Only the virtual environment crosses over: no uv, no sources, no build cache, no secrets.
COPY --from=build /opt/wapang /opt/wapang
ENV PATH=/opt/wapang/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# Settings come from the environment (compose env_file); this directory holds no .env. It belongs
# to the app's user: the embedded default database (SQLite, .wapang/wapang.db) is created here.
WORKDIR /srv/wapang
# /var/lib/wapang/backups: BACKUP_DIR in production; the backups volume takes its owner and mode
# from this directory when compose first creates it.
RUN chown wapang:wapang /srv/wapang \
    && install -d -o wapang -g wapang -m 0700 /var/lib/wapang/backups
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["wapang", "serve", "--host", "0.0.0.0", "--port", "8000"]
