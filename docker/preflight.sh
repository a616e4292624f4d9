#!/bin/sh
# Before the workshop: can this machine run the demo? Docker, Compose, free ports,
# memory, images; each problem on one line with its fix.
#
#   sh docker/preflight.sh          # or: make preflight
#
# Plain POSIX sh and the docker CLI only (no Python, no bash 4, no GNU tools), so it runs
# as it is on Linux, macOS and in Git Bash or WSL on Windows. COMPOSE names the Compose
# command (default: `docker compose` where it answers, else `docker-compose`); the
# ports and images come from the environment or `.env` as Compose takes them.
# Exit 0 when nothing failed (warnings allowed), 1 otherwise.
set -u
cd "$(dirname "$0")/.." || exit 1

failed=0
ok() { printf '  ok    %s\n' "$*"; }
warn() { printf '  warn  %s\n' "$*"; }
fail() {
    printf '  FAIL  %s\n' "$*"
    failed=1
}

# A setting as Compose takes it: the environment first, then .env, then the default.
setting() {
    eval "value=\${$1:-}"
    # shellcheck disable=SC2154  # set by the eval above
    if [ -z "$value" ] && [ -f .env ]; then
        value="$(sed -n "s/^$1=//p" .env | tail -n 1 | sed "s/^[\"']//; s/[\"']\$//")"
    fi
    printf '%s' "${value:-$2}"
}

echo "preflight: can this machine run the demo?"

if ! command -v docker >/dev/null 2>&1; then
    fail "docker is not installed: install Docker Desktop (macOS, Windows) or Docker Engine (Linux)"
    exit 1
fi
if docker info >/dev/null 2>&1; then
    ok "Docker engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
else
    fail "the Docker engine does not answer: start Docker Desktop, or: sudo systemctl start docker"
    exit 1
fi

compose="${COMPOSE:-}"
if [ -z "$compose" ]; then
    if docker compose version >/dev/null 2>&1; then compose="docker compose"; else compose="docker-compose"; fi
fi
# shellcheck disable=SC2086  # "docker compose" is two words
if version="$($compose version --short 2>/dev/null)"; then
    case "$version" in
    1.2[0-8].* | 1.1[0-9].* | 1.[0-9].*)
        fail "$compose $version is too old (profiles, healthy conditions): install Compose v2, or v1.29"
        ;;
    *) ok "$compose $version" ;;
    esac
else
    fail "no Compose: install Docker Desktop (it has Compose v2), or the docker-compose-plugin package"
fi

# Ports on 127.0.0.1: a port something accepts connections on is taken.
taken() {
    if command -v bash >/dev/null 2>&1; then
        bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" >/dev/null 2>&1
    elif command -v nc >/dev/null 2>&1; then
        nc -z 127.0.0.1 "$1" >/dev/null 2>&1
    else
        return 2
    fi
}
for pair in ZOO1_CLIENT_PORT:2181 ZOO2_CLIENT_PORT:2182 ZOO3_CLIENT_PORT:2183 DASHBOARD_PORT:8080 \
    SERVICE1_METRICS_PORT:9101 SERVICE2_METRICS_PORT:9102; do
    name="${pair%%:*}"
    port="$(setting "$name" "${pair#*:}")"
    taken "$port"
    case $? in
    0)
        owner="$(docker ps --filter "publish=$port" --format '{{.Names}}' 2>/dev/null | head -n 1)"
        if [ -n "$owner" ]; then
            fail "port $port ($name) is taken by the container $owner: docker compose down there, or $name=<free port> docker compose up"
        else
            fail "port $port ($name) is taken by another program: stop it, or $name=<free port> docker compose up"
        fi
        ;;
    1) ok "port $port ($name) is free" ;;
    *) warn "cannot check port $port (no bash or nc here)" ;;
    esac
done

# Memory: the containers' limits add up to about 1.9 GiB (3 x 512 MiB ZooKeeper,
# 3 x 128 MiB for the workers and the page).
memory="$(docker info --format '{{.MemTotal}}' 2>/dev/null)"
case "$memory" in
'' | *[!0-9]*) warn "cannot read Docker's memory (docker info)" ;;
*)
    mib=$((memory / 1048576))
    if [ "$mib" -lt 2048 ]; then
        fail "Docker has $mib MiB of memory, the demo needs about 2 GiB: Docker Desktop, Settings, Resources, Memory: 4 GB"
    else
        ok "Docker has $mib MiB of memory (the demo's limits: about 1.9 GiB)"
    fi
    ;;
esac

for pair in ZOOKEEPER_IMAGE:zookeeper:3.9.4 PYTHON_IMAGE:python:3.12-slim; do
    name="${pair%%:*}"
    image="$(setting "$name" "${pair#*:}")"
    if docker image inspect "$image" >/dev/null 2>&1; then
        ok "image $image is here"
    else
        warn "image $image is not here yet: docker pull $image (now, not on the room's Wi-Fi); no registry at all: make standins"
    fi
done

if [ "$failed" -ne 0 ]; then
    echo "preflight: fix the FAIL lines above, then run it again"
    exit 1
fi
echo "preflight: ready. Start with: docker compose up"
