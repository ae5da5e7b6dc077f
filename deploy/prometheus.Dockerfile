# Prometheus for the compose stack's optional `monitoring` profile, with wapang's scrape config
# and alert rules baked in (deploy/monitoring/). Debian's prometheus package on a Debian base, so
# it builds where Docker Hub is out of reach too (the stand-in bases of deploy/standins).
#   docker build -f deploy/prometheus.Dockerfile -t wapang-prometheus .
# Any Debian bookworm base with apt and python3 (the health check): the pinned slim Python base
# the other images use, under the same build argument (its stand-in is wapang-standin/python,
# deploy/standins).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d
FROM ${PYTHON_IMAGE}
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends prometheus \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/prometheus && chown 65534:65534 /var/lib/prometheus
COPY deploy/monitoring/prometheus.yml deploy/monitoring/alerts.yml /etc/prometheus/
RUN promtool check config /etc/prometheus/prometheus.yml
USER 65534:65534
EXPOSE 9090
# No curl or wget here: the base's Python asks Prometheus's own readiness endpoint.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9090/-/ready', timeout=2)"]
ENTRYPOINT ["prometheus", "--config.file=/etc/prometheus/prometheus.yml", \
    "--storage.tsdb.path=/var/lib/prometheus", "--storage.tsdb.retention.time=15d"]
