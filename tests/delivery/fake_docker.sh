#!/usr/bin/env bash
# A stand-in `docker` for tests/delivery/test_deploy_script.py: there is no Docker engine here.
# It keeps "containers" as files in $FAKE_STATE, logs every call to $FAKE_STATE/calls, and runs
# `wapang check-config` for real (the local package) against the --env-file it is given.
# Failure knobs: FAKE_UNHEALTHY_TAG, FAKE_VERIFY_FAIL_TAG, FAKE_MIGRATE_FAIL,
# FAKE_UNSAFE_MIGRATION (check-migrations' finding), FAKE_RESTORE_FAIL (the restore's refusal);
# FAKE_PENDING: pending revisions.
set -euo pipefail
state="${FAKE_STATE:?}"
mkdir -p "$state/containers"
printf '%s\n' "$*" >> "$state/calls"

new_container() { # new_container SERVICE TAG -> prints id
    local id
    id=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
    printf '%s %s\n' "$1" "$2" > "$state/containers/$id"
    printf '%s' "$id"
}

service_ids() { # ids of a service's containers
    local file
    for file in "$state"/containers/*; do
        [ -e "$file" ] || continue
        [ "$(cut -d' ' -f1 "$file")" = "$1" ] && basename "$file"
    done
    return 0
}

compose() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --project-directory | -f) shift 2 ;;
            *) break ;;
        esac
    done
    local command="$1"
    shift
    case "$command" in
        ps) service_ids "${@: -1}" ;;
        run)
            case " $* " in
                *" wapang verify --cleanup "*)
                    if [ "${TAG:?}" = "${FAKE_VERIFY_FAIL_TAG:-}" ]; then
                        echo "verify: FAIL" >&2
                        exit 1
                    fi
                    ;;
                *" wapang verify "*) echo "fake docker: verify without --cleanup" >&2; exit 2 ;;
                *" wapang db check-migrations"*)
                    if [ -n "${FAKE_UNSAFE_MIGRATION:-}" ]; then
                        echo "UNSAFE ${FAKE_UNSAFE_MIGRATION}"
                        exit 1
                    fi
                    echo "${FAKE_PENDING:-0} pending revision(s), none breaks the serving release"
                    ;;
                *" wapang db backup"*) echo "backup /var/lib/wapang/backups/fake.sql.gz" ;;
                *" wapang db restore "*)
                    if [ -n "${FAKE_RESTORE_FAIL:-}" ]; then
                        echo "restore REFUSED ${FAKE_RESTORE_FAIL}"
                        exit 1
                    fi
                    echo "restored"
                    ;;
                *) [ -z "${FAKE_MIGRATE_FAIL:-}" ] || { echo "migration error" >&2; exit 1; } ;;
            esac
            ;;
        up)
            local scale="" services=() service id
            while [ $# -gt 0 ]; do
                case "$1" in
                    --scale) scale="${2#*=}"; shift 2 ;;
                    -*) shift ;;
                    *) services+=("$1"); shift ;;
                esac
            done
            for service in "${services[@]}"; do
                if [ "$service" = app ]; then
                    while [ "$(service_ids app | grep -c .)" -lt "${scale:-1}" ]; do
                        new_container app "$TAG" >/dev/null
                    done
                else
                    for id in $(service_ids "$service"); do rm -f "$state/containers/$id"; done
                    new_container "$service" "$TAG" >/dev/null
                fi
            done
            ;;
        stop) for id in $(service_ids "${@: -1}"); do rm -f "$state/containers/$id"; done ;;
        exec) # wapang-upstream in nginx (render, nginx -t, reload); `wapang status`'s probes
            case " $* " in
                *" app python -c "*) [ -z "${FAKE_APP_NOT_READY:-}" ] || exit 1 ;;
                *" certbot wapang certs status"*) # the real command, on the test's edge dirs
                    shift 2
                    exec "${FAKE_PYTHON:?}" -m wapang.cli "${@:2}" ;;
            esac
            ;;
        *) echo "fake docker compose: unsupported $command" >&2; exit 2 ;;
    esac
}

run() {
    local env_file=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --rm) shift ;;
            --env-file) env_file="$2"; shift 2 ;;
            --network) shift 2 ;;
            *) shift; break ;;  # the image: only check-config runs through `docker run`
        esac
    done
    case "$1 $2" in
        "wapang check-config")
            exec env -i PATH="$PATH" HOME="$state" "${FAKE_PYTHON:?}" -m wapang.cli check-config \
                --env-file "$env_file" ;;
        *) echo "fake docker run: unsupported $*" >&2; exit 2 ;;
    esac
}

inspect() { # only the health status, the name and the edge label are asked for
    local format="$2" id="$3" tag
    [ -e "$state/containers/$id" ] || { echo "no such container" >&2; exit 1; }
    tag=$(cut -d' ' -f2 "$state/containers/$id")
    case "$format" in
        *Health*) [ "$tag" = "${FAKE_UNHEALTHY_TAG:-}" ] && echo "unhealthy running" ||
            echo "healthy running" ;;
        *.Name*) echo "/fake-$id" ;;
        *) echo "edge-v1" ;;
    esac
}

remove() {
    local id
    for id in "$@"; do
        case "$id" in -*) continue ;; esac
        rm -f "$state/containers/$id"
    done
}

case "$1" in
    compose) shift; compose "$@" ;;
    pull) printf '%s\n' "${*: -1}" >> "$state/images" ;;
    run) shift; run "$@" ;;
    inspect) shift; inspect "$@" ;;
    image)
        case "$2" in
            ls) sort -u "$state/images" 2>/dev/null || true ;;
            rm) grep -vxF "$3" "$state/images" > "$state/images.tmp" || true
                mv "$state/images.tmp" "$state/images" ;;
            *) echo "edge-v1" ;;
        esac
        ;;
    stop) ;;
    rm) shift; remove "$@" ;;
    logs) ;;
    *) echo "fake docker: unsupported $1" >&2; exit 2 ;;
esac
