#!/usr/bin/env bash
# Deploy one release on the host: cd.yml copies this script, compose.yaml and the new .env into a
# private directory (--incoming) and runs it. Readable and linted here (shellcheck deploy/deploy.sh).
#
#   deploy.sh --registry ghcr.io/OWNER --tag GIT_SHA --incoming DIR [--dir /opt/wapang]
#   /opt/wapang/deploy.sh --rollback [--dir /opt/wapang]   # back to the previous tag, by hand
#   /opt/wapang/deploy.sh releases | rollback [TAG] [--dir /opt/wapang]   # the kept releases
#   /opt/wapang/deploy.sh maintenance on|off [--dir /opt/wapang]   # /api answers JSON 503
#   /opt/wapang/deploy.sh restore FILE [--yes] [--dir /opt/wapang]   # selfhost, in maintenance
#
# Order: lock → pull → check-config in the NEW image against the NEW .env → install →
# check-migrations in the new image (refuses what breaks the serving release; a backup first when
# a migration is pending, selfhost) → migrate →
# new app beside the old one → health gate → edge → nginx switched to the new app only (tested
# reload; the old workers finish their requests) → old app drained and removed → nginx back to
# the service name "app" (tested reload) → `wapang verify https://DOMAIN`. A failure up to the
# health gate leaves the old release serving untouched; any later failure rolls back to the
# previous tag the same way. It never orders certificates.
set -euo pipefail

DEPLOY_DIR=/opt/wapang
REGISTRY=""
TAG=""
INCOMING=""
ROLLBACK_ONLY=false
ROLLBACK_TAG=""   # `rollback TAG`: any kept release (default: the previous one)
LIST_RELEASES=false
MAINTENANCE=""   # on | off: the flag file nginx tests on every request (webroot volume)
RESTORE_FILE=""  # `restore FILE`: a backup as the backup service sees it (/var/lib/wapang/backups)
ASSUME_YES=false # `restore FILE --yes`: no question asked
KEEP_RELEASES=${KEEP_RELEASES:-5}       # releases kept in $DEPLOY_DIR/releases, with their images
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-180}   # seconds for a new app container to become healthy
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-30}      # seconds nginx's old workers may take to finish requests
VERIFY_TIMEOUT=${VERIFY_TIMEOUT:-300}   # seconds `wapang verify` may keep failing (first cert)
LOCK_TIMEOUT=${LOCK_TIMEOUT:-900}       # seconds to wait for another deploy to finish

PREVIOUS_TAG=""
SWITCHED=false # true once the host's .env/compose.yaml were replaced: failures restore them
ROLLED=false   # true once a healthy new app was let in (edge, switch): failures start the old tag

log() { printf '%s deploy: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "FAILED: $*"; printf '%s\n' "$*" > "${FAILURE_NOTE:-/dev/null}" 2>/dev/null || true; exit 1; }

# alert MESSAGE: a JSON POST to ALERT_WEBHOOK_URL (from .env) when it is set; Slack-compatible
# ("text") and plain ("source", "reasons", "tag"). In the background, retried by curl, never
# holding up or failing the deploy; the URL is a secret: never printed, curl kept silent.
alert() {
    local url message
    url=$(sed -n 's/^ALERT_WEBHOOK_URL=//p' "$DEPLOY_DIR/.env" "${INCOMING:-/nonexistent}/.env" 2>/dev/null | head -n 1 || true)
    url=${url#[\"\']} url=${url%[\"\']}
    [ -n "$url" ] || return 0
    command -v curl >/dev/null || { log "alert not sent: curl is not installed"; return 0; }
    message=$(printf '%s' "$1" | tr '"\\\n' "'/ ")
    setsid curl -fsS -o /dev/null --max-time 10 --retry 3 --retry-all-errors --retry-delay 2 \
        -H 'Content-Type: application/json' \
        --data "{\"text\":\"wapang deploy: $message\",\"source\":\"deploy\",\"reasons\":[\"$message\"],\"tag\":\"${TAG:-}\"}" \
        "$url" </dev/null >/dev/null 2>&1 &
    log "alert sent to ALERT_WEBHOOK_URL"
}

usage() {
    sed -n '5,9p' "$0" >&2
    exit 64
}

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --registry) REGISTRY="$2"; shift 2 ;;
            --tag) TAG="$2"; shift 2 ;;
            --incoming) INCOMING="$2"; shift 2 ;;
            --dir) DEPLOY_DIR="$2"; shift 2 ;;
            --rollback) ROLLBACK_ONLY=true; shift ;;
            rollback) ROLLBACK_ONLY=true; shift
                if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then ROLLBACK_TAG="$1"; shift; fi ;;
            releases) LIST_RELEASES=true; shift ;;
            maintenance)
                case "${2:-}" in on | off) MAINTENANCE="$2"; shift 2 ;; *) usage ;; esac ;;
            restore) [ -n "${2:-}" ] || usage; RESTORE_FILE="$2"; shift 2 ;;
            --yes) ASSUME_YES=true; shift ;;
            *) usage ;;
        esac
    done
    if ! $ROLLBACK_ONLY && ! $LIST_RELEASES && [ -z "$MAINTENANCE$RESTORE_FILE" ] && { [ -z "$REGISTRY" ] || [ -z "$TAG" ] || [ -z "$INCOMING" ]; }; then
        usage
    fi
    case "$TAG$ROLLBACK_TAG" in *[!0-9a-zA-Z._-]*) die "'$TAG$ROLLBACK_TAG' is not an image tag" ;; esac
}

# ---- state kept in DEPLOY_DIR ------------------------------------------------------------------

state() { cat "$DEPLOY_DIR/$1" 2>/dev/null || true; }
set_state() { printf '%s\n' "$2" > "$DEPLOY_DIR/$1.tmp" && mv "$DEPLOY_DIR/$1.tmp" "$DEPLOY_DIR/$1"; }

record_release() { # record_release TAG OUTCOME: one line "TIME TAG OUTCOME", the last N kept
    local file="$DEPLOY_DIR/releases"
    printf '%s %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" "$2" >> "$file"
    tail -n "$KEEP_RELEASES" "$file" > "$file.tmp" && mv "$file.tmp" "$file"
}

kept_tags() { # the tags of the kept releases that served (deployed or rolled back to)
    awk '$3 == "deployed" || $3 == "rolled-back-to" {print $2}' "$DEPLOY_DIR/releases" 2>/dev/null |
        sort -u
}

prune_images() { # images of releases no longer kept; never the serving or the previous one
    local keep ref
    keep=$(printf '%s\n' "$(kept_tags)" "$(state current-tag)" "$(state previous-tag)" | grep . | sort -u)
    for ref in $(docker image ls --format '{{.Repository}}:{{.Tag}}' | grep "^$REGISTRY/wapang-" || true); do
        if ! printf '%s\n' "$keep" | grep -qxF "${ref##*:}"; then
            docker image rm "$ref" >/dev/null 2>&1 && log "pruned $ref" || true
        fi
    done
}

maintenance() { # through the certbot container, the one that mounts the webroot writable
    local tag flag=/var/www/certbot/wapang-maintenance
    tag=$(state current-tag)
    REGISTRY=${REGISTRY:-$(state registry)}
    [ -n "$tag" ] || die "no release serves here yet (no $DEPLOY_DIR/current-tag)"
    if [ "$1" = on ]; then
        compose "$tag" exec -T certbot touch "$flag" || die "could not set the maintenance flag"
        log "maintenance ON: /api answers 503 ERR_503 with Retry-After; /readyz still served"
    else
        compose "$tag" exec -T certbot rm -f "$flag" || die "could not remove the maintenance flag"
        log "maintenance OFF: /api served again"
    fi
}

# restore FILE: the host's entry point for `wapang db restore` (which runs in the backup service's
# container and cannot reach the edge). Under the deploy lock (no deploy migrates meanwhile),
# with the scheduled backups stopped (no backup of a half-restored database) and maintenance on
# (no write the restore would drop is answered 201); maintenance goes off again whatever happens.
restore_database() {
    local tag answer
    take_lock
    tag=$(state current-tag)
    REGISTRY=${REGISTRY:-$(state registry)}
    [ -n "$tag" ] || die "no release serves here yet (no $DEPLOY_DIR/current-tag)"
    selfhost || die "restore is for the selfhost database; RDS restores a snapshot (DEPLOY.md, RDS)"
    if ! $ASSUME_YES; then
        [ -t 0 ] || die "a restore replaces the whole database: confirm with --yes"
        read -r -p "Replace the whole database with $RESTORE_FILE? /api answers 503 meanwhile [y/N] " answer
        case "$answer" in y | Y | yes) ;; *) die "nothing restored" ;; esac
    fi
    trap end_restore EXIT
    trap 'exit 130' INT TERM HUP
    compose "$tag" stop backup >&2 || true
    maintenance on
    log "restoring $RESTORE_FILE at $tag (wapang db restore in the backup service)"
    compose "$tag" run --rm -T backup wapang db restore --yes "$RESTORE_FILE" ||
        die "the restore failed or was refused (above)"
    log "restored $RESTORE_FILE"
}

end_restore() { # on every exit of restore_database: the site back, the schedule running again
    local status=$? tag
    trap - EXIT INT TERM HUP
    tag=$(state current-tag)
    compose "$tag" exec -T certbot rm -f /var/www/certbot/wapang-maintenance ||
        log "WARNING: maintenance is still ON: run deploy.sh maintenance off"
    [ "$status" -eq 0 ] || log "maintenance OFF again (the output above says whether the database was touched)"
    [ "$status" -ne 0 ] || log "maintenance OFF: /api served again"
    start_backups "$tag"
    exit "$status"
}

list_releases() {
    [ -s "$DEPLOY_DIR/releases" ] || { echo "no release recorded in $DEPLOY_DIR/releases"; return 0; }
    printf '%-21s %-41s %s\n' TIME TAG OUTCOME
    awk -v current="$(state current-tag)" \
        '{printf "%-21s %-41s %s%s\n", $1, $2, $3, ($2 == current ? " (serving)" : "")}' \
        "$DEPLOY_DIR/releases"
}

take_lock() {
    mkdir -p "$DEPLOY_DIR"
    chmod 0750 "$DEPLOY_DIR"
    exec 9>"$DEPLOY_DIR/deploy.lock"
    log "waiting for the deploy lock ($DEPLOY_DIR/deploy.lock)"
    flock -w "$LOCK_TIMEOUT" 9 || die "another deploy still holds $DEPLOY_DIR/deploy.lock"
}

# ---- docker helpers ----------------------------------------------------------------------------

compose() { # compose TAG ARGS...: the stack at that tag, with the host's compose.yaml and .env
    local tag="$1"
    shift
    # Optional profiles, chosen once per host: `echo selfhost > /opt/wapang/compose-profiles`
    # runs the bundled MySQL instead of RDS.
    # A host's own compose.override.yaml (kept across deploys) adjusts the shipped file.
    local files=(-f "$DEPLOY_DIR/compose.yaml")
    [ -f "$DEPLOY_DIR/compose.override.yaml" ] && files+=(-f "$DEPLOY_DIR/compose.override.yaml")
    COMPOSE_PROFILES="$(state compose-profiles)" REGISTRY="$REGISTRY" TAG="$tag" \
        docker compose --project-directory "$DEPLOY_DIR" "${files[@]}" "$@"
}

image() { printf '%s/wapang-%s:%s' "$REGISTRY" "$1" "$2"; }

pull_images() {
    local tag="$1" name names=(app nginx certbot)
    monitoring && names+=(prometheus)
    for name in "${names[@]}"; do
        docker pull --quiet "$(image "$name" "$tag")" >/dev/null ||
            die "cannot pull $(image "$name" "$tag"): was it pushed? can the host log in to the registry?"
    done
}

check_config() { # the NEW image validates the NEW .env before anything is switched
    local env_file="$1" tag="$2"
    log "check-config: $(image app "$tag") against $env_file"
    docker run --rm --env-file "$env_file" "$(image app "$tag")" wapang check-config ||
        die "configuration rejected by check-config (above: every missing, placeholder or weak setting)"
}

domain_from() { # the first of DOMAINS in an env file: the name `wapang verify` checks
    sed -n 's/^DOMAINS=//p' "$1" | cut -d, -f1
}

# ---- release files -----------------------------------------------------------------------------

install_release() {
    local name
    for name in .env compose.yaml; do
        [ -f "$DEPLOY_DIR/$name" ] && cp -p "$DEPLOY_DIR/$name" "$DEPLOY_DIR/$name.previous"
    done
    install -m 0600 "$INCOMING/.env" "$DEPLOY_DIR/.env"
    install -m 0644 "$INCOMING/compose.yaml" "$DEPLOY_DIR/compose.yaml"
    SWITCHED=true
}

restore_previous_files() {
    local name
    for name in .env compose.yaml; do
        [ -f "$DEPLOY_DIR/$name.previous" ] && cp -p "$DEPLOY_DIR/$name.previous" "$DEPLOY_DIR/$name"
    done
}

# ---- the switch --------------------------------------------------------------------------------

selfhost() { case ",$(state compose-profiles)," in *,selfhost,*) return 0 ;; esac; return 1; }
monitoring() { case ",$(state compose-profiles)," in *,monitoring,*) return 0 ;; esac; return 1; }

check_migrations() { # the NEW image judges its pending migrations before any is applied
    local tag="$1" report
    log "check-migrations: what the pending migrations do to the release still serving"
    # With dependencies: under the selfhost profile this starts MySQL and waits for its health.
    report=$(compose "$tag" run --rm -T migrate wapang db check-migrations 2>&1) || {
        printf '%s\n' "$report" >&2
        die "check-migrations refused the pending migrations (above): the old release still serves"
    }
    printf '%s\n' "$report" >&2
    if printf '%s\n' "$report" | grep -q '^0 pending revision'; then
        return 0
    fi
    # A pending migration on a host with data: a backup first (selfhost; RDS has its snapshots).
    if [ -n "$PREVIOUS_TAG" ] && selfhost; then
        log "backing up before migrating"
        compose "$tag" run --rm -T backup wapang db backup >&2 ||
            die "the backup before migrating failed (above): nothing was migrated"
    fi
}

migrate() {
    log "migrating the database (one-shot migrate service)"
    # With dependencies: under the selfhost profile this starts MySQL and waits for its health.
    compose "$1" run --rm migrate || die "migration failed: the old release still serves"
}

update_edge() { # nginx is recreated only when its inputs changed (a restart drops connections)
    local tag="$1" running wanted
    # The placeholder certificate when none exists yet (a no-op afterwards): nginx needs one.
    compose "$tag" run --rm --no-deps -T certs-init >&2 ||
        die "certs-init failed (above): nginx cannot start without a certificate"

    running=$(docker inspect --format '{{index .Config.Labels "wapang.edge-inputs"}}' \
        "$(compose "$tag" ps -q nginx 2>/dev/null | head -n1)" 2>/dev/null || true)
    wanted=$(docker image inspect --format '{{index .Config.Labels "wapang.edge-inputs"}}' \
        "$(image nginx "$tag")")
    if [ -n "$running" ] && [ "$running" = "$wanted" ]; then
        log "nginx unchanged (edge inputs $wanted): kept running"
        compose "$tag" up -d --no-deps certbot
    else
        log "starting nginx and the certificate manager at $tag"
        # certbot only once nginx is healthy: an HTTP-01 challenge nginx cannot serve yet would
        # count as a failed order and start the manager's backoff.
        compose "$tag" up -d --no-deps --wait nginx ||
            die "nginx did not become healthy: $(compose "$tag" logs --tail 20 nginx 2>&1)"
        compose "$tag" up -d --no-deps certbot
    fi
}

running() { # running SERVICE TAG: ids of the service's running containers
    compose "$2" ps -q --status running "$1" 2>/dev/null || true
}

point_nginx_at() { # point_nginx_at TAG [CONTAINER]: nginx's upstream is that app container only,
    # or without one the service name "app" (the steady state, what nginx starts with). The
    # image's wapang-upstream renders the site with it, loads it only if `nginx -t` passes and
    # waits until the workers of the previous configuration have finished their requests: after
    # it returns, nothing sends to an app the new upstream leaves out.
    local tag="$1" upstream=""
    [ -n "$(running nginx "$tag")" ] || return 0
    if [ -n "${2:-}" ]; then
        upstream="$(docker inspect --format '{{.Name}}' "$2" | sed 's|^/||'):8000"
    fi
    # An nginx image older than wapang-upstream gets the plain tested reload.
    # shellcheck disable=SC2016 # expanded by the container's shell
    local switch='s=${WAPANG_ENTRYPOINT_D:-/docker-entrypoint.d}/wapang-upstream;'\
' [ -x "$s" ] && exec "$s" "$1"; nginx -t -q && nginx -s reload'
    compose "$tag" exec -T -e "EDGE_DRAIN_SECONDS=$DRAIN_TIMEOUT" nginx sh -c "$switch" \
        sh "$upstream" >&2 ||
        die "nginx rejected its configuration (nginx -t): it keeps serving the old one"
}

wait_healthy() {
    local container="$1" deadline status
    deadline=$(($(date +%s) + HEALTH_TIMEOUT))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        # The health status, and whether it still runs: one that exited (a crash at start)
        # fails the gate at once instead of after HEALTH_TIMEOUT.
        status=$(docker inspect --format '{{.State.Health.Status}} {{.State.Status}}' \
            "$container" 2>/dev/null || echo gone)
        case "$status" in
            "healthy running") return 0 ;;
            unhealthy* | gone | *" exited" | *" dead" | *" restarting") break ;;
        esac
        sleep 1
    done
    docker logs --tail 50 "$container" >&2 || true
    return 1
}

start_app_beside_old() { # prints the new container id; the old ones keep serving meanwhile
    local tag="$1" old count new
    old=$(compose "$tag" ps -q app | sort)
    count=$(printf '%s' "$old" | grep -c . || true)
    compose "$tag" up -d --no-deps --no-recreate --scale "app=$((count + 1))" app >&2
    new=$(comm -13 <(printf '%s\n' "$old") <(compose "$tag" ps -q app | sort) | head -n1)
    [ -n "$new" ] || die "compose did not start a new app container"
    printf '%s' "$new"
}

roll_app() { # new app beside the old, health gate, edge, nginx to the new one, old drained
    local tag="$1" old new
    old=$(compose "$tag" ps -q app)
    new=$(start_app_beside_old "$tag")
    log "new app container ${new:0:12} started; waiting for its health check (/healthz)"
    if ! wait_healthy "$new"; then
        docker rm -f "$new" >/dev/null || true
        die "the new app never became healthy (its logs are above): the old release still serves"
    fi
    ROLLED=true
    # A first deploy starts nginx here: it resolves "app" when it starts, to the one app.
    update_edge "$tag"
    [ -n "$old" ] || return 0
    # Not "app" (old and new) but the new container alone, until the old one is gone: no request
    # is sent to an app that is shutting down, and no kept-alive upstream connection to it is
    # reused.
    log "nginx: upstream ${new:0:12} only, then the old app drains"
    point_nginx_at "$tag" "$new"
    log "draining the old app container(s): $(printf '%s ' "$old" | cut -c1-12)"
    # shellcheck disable=SC2086 # one id per word
    docker stop --time 30 $old >/dev/null && docker rm $old >/dev/null
    point_nginx_at "$tag" # the steady state again: "app" now resolves to the new one only
}

verify() { # the public name through DNS, as a client sees it; retried while the cert is issued
    local tag="$1" domain deadline
    domain=$(domain_from "$DEPLOY_DIR/.env")
    [ -n "$domain" ] || die "DOMAINS is empty in $DEPLOY_DIR/.env"
    deadline=$(($(date +%s) + VERIFY_TIMEOUT))
    # Run as the app runs (its env_file and network), so --cleanup deletes verify's probe
    # account in the very database the app uses.
    until compose "$tag" run --rm --no-deps -T app wapang verify --cleanup "https://$domain"; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        log "verify failed; retrying in 15 s (a first certificate can take a minute)"
        sleep 15
    done
}

start_backups() { # selfhost: the backup service at this release (it backs up when one is due)
    selfhost || return 0
    compose "$1" up -d --no-deps backup >&2 ||
        log "WARNING: the backup service did not start (docker compose logs backup)"
}

start_monitoring() { # the monitoring profile: Prometheus with this release's rules and targets
    monitoring || return 0
    compose "$1" up -d --no-deps prometheus >&2 ||
        log "WARNING: prometheus did not start (docker compose logs prometheus)"
}

# ---- rollback ----------------------------------------------------------------------------------

rollback() {
    trap - EXIT INT TERM HUP
    if ! $SWITCHED; then
        return
    fi
    restore_previous_files
    if ! $ROLLED; then
        log "restored the previous .env and compose.yaml; the running containers were not touched"
        return
    fi
    if [ -z "$PREVIOUS_TAG" ]; then
        log "ROLLBACK impossible: this was the first deploy, nothing older to return to"
        alert "first deploy of ${TAG:-a release} failed after the switch ($(failure_note)); nothing older to return to"
        return
    fi
    log "ROLLBACK to $PREVIOUS_TAG"
    (roll_app "$PREVIOUS_TAG") || {
        log "ROLLBACK FAILED: inspect with: docker compose -f $DEPLOY_DIR/compose.yaml ps"
        alert "deploy of ${TAG:-a release} failed ($(failure_note)) and the ROLLBACK to $PREVIOUS_TAG FAILED: inspect the host"
        return
    }
    set_state current-tag "$PREVIOUS_TAG"
    record_release "$PREVIOUS_TAG" rolled-back-to
    log "rolled back: $PREVIOUS_TAG serves again (migrations are not reverted)"
    if [ -n "${TAG:-}" ]; then
        alert "deploy of $TAG failed ($(failure_note)); rolled back: $PREVIOUS_TAG serves again"
    else
        alert "rolled back by hand (deploy.sh --rollback): $PREVIOUS_TAG serves again"
    fi
}

failure_note() { cat "${FAILURE_NOTE:-/dev/null}" 2>/dev/null || true; }

on_exit() {
    local status=$?
    if [ "$status" -ne 0 ]; then
        [ -z "$TAG" ] || record_release "$TAG" failed
        set_state last-deploy "failed $TAG $(date -u +%Y-%m-%dT%H:%M:%SZ): $(failure_note)" || true
        rollback
        if ! $ROLLED; then # nothing was switched: nothing rolled back, still worth a message
            alert "deploy of ${TAG:-a release} failed before the switch: $(failure_note)"
        fi
    fi
    exit "$status"
}

# ---- main --------------------------------------------------------------------------------------

deploy() {
    take_lock
    PREVIOUS_TAG=$(state current-tag)
    FAILURE_NOTE="$DEPLOY_DIR/last-failure"
    rm -f "$FAILURE_NOTE"
    trap on_exit EXIT
    trap 'exit 130' INT TERM HUP # the SSH session died: still roll back, never half-switch
    log "deploying $TAG (previous: ${PREVIOUS_TAG:-none})"
    pull_images "$TAG"
    check_config "$INCOMING/.env" "$TAG"
    install_release
    check_migrations "$TAG"
    migrate "$TAG"
    roll_app "$TAG"
    verify "$TAG" || die "wapang verify https://$(domain_from "$DEPLOY_DIR/.env") failed (table above)"
    start_backups "$TAG"
    start_monitoring "$TAG"
    set_state previous-tag "$PREVIOUS_TAG"
    set_state current-tag "$TAG"
    set_state last-deploy "ok $TAG $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    trap - EXIT INT TERM HUP
    record_release "$TAG" deployed
    prune_images
    # Kept on the host for `deploy.sh --rollback` by hand (the incoming directory is removed).
    if ! [ "$0" -ef "$DEPLOY_DIR/deploy.sh" ]; then
        install -m 0755 "$0" "$DEPLOY_DIR/deploy.sh" || log "could not keep a copy of deploy.sh"
    fi
    rm -rf "$INCOMING"
    log "deployed $TAG"
}

manual_rollback() {
    take_lock
    PREVIOUS_TAG=${ROLLBACK_TAG:-$(state previous-tag)}
    REGISTRY=${REGISTRY:-$(state registry)}
    [ -n "$PREVIOUS_TAG" ] || die "no previous tag recorded in $DEPLOY_DIR/previous-tag"
    if [ -n "$ROLLBACK_TAG" ] && ! kept_tags | grep -qxF "$ROLLBACK_TAG"; then
        die "$ROLLBACK_TAG is not a kept release (deploy.sh releases lists them)"
    fi
    pull_images "$PREVIOUS_TAG"
    SWITCHED=true
    ROLLED=true
    rollback
    [ "$(state current-tag)" = "$PREVIOUS_TAG" ] || die "the rollback to $PREVIOUS_TAG failed (above)"
    verify "$PREVIOUS_TAG" || die "wapang verify failed after the rollback to $PREVIOUS_TAG (table above)"
}

main() {
    parse_args "$@"
    if [ -n "$MAINTENANCE" ]; then
        maintenance "$MAINTENANCE"
    elif [ -n "$RESTORE_FILE" ]; then
        restore_database
    elif $LIST_RELEASES; then
        list_releases
    elif $ROLLBACK_ONLY; then
        manual_rollback
    else
        deploy
        set_state registry "$REGISTRY"
    fi
}

main "$@"
