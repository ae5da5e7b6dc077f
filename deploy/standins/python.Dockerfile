# Stand-in for python:3.11-slim-bookworm: Debian's python3 3.11, on /usr/local/bin like the
# official image (the venv the app image copies links to that path).
ARG BASE
FROM ${BASE}
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends python3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && ln -s /usr/bin/python3 /usr/local/bin/python3 && ln -s /usr/bin/python3 /usr/local/bin/python
