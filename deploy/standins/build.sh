#!/usr/bin/env bash
# Stand-ins for the pinned base images, for machines that cannot reach Docker Hub or ghcr.io
# (this project's CI). Each is built FROM a Debian base made by debootstrap (no registry), then
# passed to deploy/*.Dockerfile as the build argument the Dockerfile names:
#
#   deploy/standins/build.sh            # prints the --build-arg lines and the pebble/db images
#
# The debootstrap tarball is cached in $STANDIN_CACHE (default /var/cache/wapang-standins) so a
# second run on the same machine skips the 30 s bootstrap; a fresh machine builds it.
set -euo pipefail
cd "$(dirname "$0")"
DOCKER=${DOCKER:-/usr/bin/docker} # Debian's client: BuildKit without a buildx plugin
CACHE=${STANDIN_CACHE:-/var/cache/wapang-standins}
SUITE=bookworm
export DOCKER_BUILDKIT=1

log() { printf 'standins: %s\n' "$*" >&2; }

apt_mirror() { # the mirror apt already uses on this host, never a hard-coded one
    sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1 |
        grep . || sed -n 's/^deb \(\[[^]]*\] \)\?\([^ ]*\) .*/\2/p' /etc/apt/sources.list | head -n1
}

base_image() {
    local tarball="$CACHE/$SUITE-minbase.tar" rootfs
    if ! [ -s "$tarball" ]; then
        command -v debootstrap >/dev/null || { log "debootstrap is missing: apt-get install debootstrap"; exit 1; }
        mkdir -p "$CACHE"
        rootfs=$(mktemp -d)
        log "debootstrap $SUITE from $(apt_mirror) (cached afterwards in $tarball)"
        debootstrap --variant=minbase "$SUITE" "$rootfs" "$(apt_mirror)" >/dev/null
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
        # Debian's official images carry this: no package cache left in any apt layer.
        printf '%s\n' 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb || true"; };' \
            'Binary::apt::APT::Keep-Downloaded-Packages "false";' \
            > "$rootfs/etc/apt/apt.conf.d/docker-clean"
        tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
        rm -rf "$rootfs"
    fi
    $DOCKER import --change 'CMD ["/bin/bash"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        "$tarball" wapang-standin/debian:$SUITE >/dev/null
}

uv_version() { # the one pin: [tool.uv] required-version in pyproject.toml
    sed -n 's/^required-version *= *"==\([0-9.]*\)"/\1/p' ../../pyproject.toml
}

uv_image() { # a FROM scratch image holding /uv, like ghcr.io/astral-sh/uv, from PyPI's wheel
    local version work
    version=$(uv_version)
    work=$(mktemp -d)
    # uv itself unpacks the wheel (the project needs uv anyway; a virtualenv's python3, as under
    # `uv run`, has no pip).
    env -u VIRTUAL_ENV uv pip install --quiet --no-deps --only-binary :all: \
        --python-platform x86_64-manylinux_2_17 --target "$work/wheel" "uv==$version"
    install -m 0755 "$work/wheel/bin/uv" "$work/uv"
    printf 'FROM scratch\nCOPY uv /uv\n' > "$work/Dockerfile"
    $DOCKER build -q -t "wapang-standin/uv:$version" "$work" >/dev/null
    rm -rf "$work"
    echo "wapang-standin/uv:$version"
}

standin() { # standin NAME [context]: build NAME.Dockerfile FROM the Debian base
    $DOCKER build -q --network host --build-arg BASE=wapang-standin/debian:$SUITE -f "$1.Dockerfile" \
        -t "wapang-standin/$1" "${2:-.}" >/dev/null
    echo "wapang-standin/$1"
}

pebble_context() { # Debian's pebble binary (the package is installed on the host)
    local work
    work=$(mktemp -d)
    install -m 0755 "$(command -v pebble)" "$work/pebble"
    cp pebble.Dockerfile "$work/"
    echo "$work"
}

main() {
    # Each image in an assignment of its own: `set -e` stops at a failed step (inside `echo
    # "X=$(step)"` a failure would go unnoticed and print a name no image has).
    local uv python nginx db context pebble
    base_image
    uv=$(uv_image)
    python=$(standin python)
    nginx=$(standin nginx)
    db=$(standin mariadb)
    context=$(pebble_context)
    pebble=$(standin pebble "$context")
    rm -rf "$context"
    printf '%s\n' "UV_IMAGE=$uv" "PYTHON_IMAGE=$python" "NGINX_IMAGE=$nginx" "DB_IMAGE=$db" \
        "PEBBLE_IMAGE=$pebble"
}

main "$@"
