#!/usr/bin/env bash
# Build the compose file's own images (the workers, the dashboard, the tools) once, from
# the stand-ins named in .env, with each Compose generation installed, under a project
# name of its own that no test removes:
#
#   docker/standins/warm-build-cache.sh       # what `make standins` runs after build.sh
#
# Why: the end-to-end tests build the compose file in a project of their own each time
# and remove its images after (`down --rmi local`). The classic builder (Compose v1's,
# and v2's without buildx) commits one layer per Dockerfile step; on this machine's
# storage driver (fuse-overlayfs) a step costs about 4.5 s, so a cold build of the four
# images took 2 min 49 s on an idle machine, and more than a test's 300 s budget on a
# busy one. With these images kept, every later build of unchanged sources is cache hits
# (about a second), and a change to common/ rebuilds only the steps from its COPY on.
# The images are small beside the stand-ins: they share every layer with them.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
project=zk-leader-election-buildcache
cd "$root"  # Compose reads .env (the stand-ins' names) from the project directory

built=0
for compose in "docker compose" "docker-compose"; do
    # shellcheck disable=SC2086  # two words on purpose: the command and its subcommand
    if $compose version >/dev/null 2>&1; then
        echo "warm-build-cache: $compose build (project $project)" >&2
        # shellcheck disable=SC2086
        $compose -p "$project" --profile tools build >&2
        built=$((built + 1))
    fi
done
if [ "$built" -eq 0 ]; then
    echo "warm-build-cache: neither docker compose nor docker-compose works; nothing built" >&2
    exit 1
fi
