# The HTTPS edge: nginx with wapang's main config, templates and entrypoint baked in, so no
# configuration file can be missing on the host. Build from the repository root:
#   docker build -f deploy/nginx.Dockerfile -t wapang-nginx .
# The entrypoint is wapang's own (deploy/nginx/entrypoint), not the official image's
# /docker-entrypoint.sh: it derives the EDGE_* values from DOMAINS/UPSTREAM, renders
# /etc/nginx/templates/*.template with envsubst, checks the certificate is in place and starts
# the reload watcher, so any nginx with envsubst and curl (a Debian stand-in too) runs the same.
# The base is a build argument pinned by version and digest; offline builds pass a stand-in.
ARG NGINX_IMAGE=nginx:1.28.1@sha256:185920f18bb13f030b6c4c5f1dd728aed4efd483a81dab29c559b8c9e3ca4c65
FROM ${NGINX_IMAGE}

# The base's own server blocks would clash with ours (a second default server on :80).
RUN rm -rf /etc/nginx/conf.d/* /etc/nginx/sites-enabled
COPY deploy/nginx/nginx.conf /etc/nginx/nginx.conf
COPY wapang/edge/nginx_templates/ /etc/nginx/templates/
COPY deploy/nginx/entrypoint.d/ /docker-entrypoint.d/
COPY deploy/nginx/entrypoint /usr/local/bin/wapang-nginx-entrypoint
EXPOSE 80 443
STOPSIGNAL SIGQUIT
# With the site's first name: any other Host gets no answer at all (444).
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["sh", "-c", "curl -s -o /dev/null -H \"Host: ${DOMAINS%%,*}\" http://127.0.0.1/"]
ENTRYPOINT ["/usr/local/bin/wapang-nginx-entrypoint"]
CMD ["nginx", "-g", "daemon off;"]
