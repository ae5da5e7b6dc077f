# Prometheus for the compose stack's optional `monitoring` profile, with wapang's scrape config
# and alert rules baked in (deploy/monitoring/). Debian's prometheus package on a Debian base, so
# it builds where Docker Hub is out of reach too (the stand-in bases of deploy/standins).
#   docker build -f deploy/prometheus.Dockerfile -t wapang-prometheus .
# Any Debian bookworm base with apt: the pinned slim Python base the other images use (its
# stand-in is wapang-standin/python, deploy/standins).
ARG BASE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d
FROM ${BASE}
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends prometheus \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/prometheus && chown 65534:65534 /var/lib/prometheus
COPY deploy/monitoring/prometheus.yml deploy/monitoring/alerts.yml /etc/prometheus/
RUN promtool check config /etc/prometheus/prometheus.yml
USER 65534:65534
EXPOSE 9090
ENTRYPOINT ["prometheus", "--config.file=/etc/prometheus/prometheus.yml", \
    "--storage.tsdb.path=/var/lib/prometheus", "--storage.tsdb.retention.time=15d"]
