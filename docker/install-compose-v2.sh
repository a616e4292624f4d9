#!/usr/bin/env bash
# Install Compose v2 (`docker compose`) as a Docker CLI plugin, from Debian's own package.
#
#   docker/install-compose-v2.sh            # or: make compose-v2
#
# The workshop runs on both Compose generations: v1 (`docker-compose` 1.29, Debian
# bookworm's package) and v2 (`docker compose`). Bookworm has no Compose v2 package, so
# this takes Debian trixie's docker-compose 2.26.1-4 (amd64): download the .deb from the
# Debian mirror apt uses here (DEBIAN_MIRROR overrides it), check its pinned SHA256,
# unpack it with dpkg-deb (docker/trixie-package.sh) and copy the one binary it holds,
# usr/libexec/docker/cli-plugins/docker-compose, into a CLI plugin directory:
# /usr/local/lib/docker/cli-plugins/ as root, else ~/.docker/cli-plugins/. Nothing is
# installed through dpkg, so apt's view of the machine does not change.
#
# Idempotent: when `docker compose version` already answers (this or any other Compose v2,
# e.g. Docker's own docker-compose-plugin package), it leaves the machine as it is.
# On failure it prints one line saying what went wrong and exits non-zero.
set -euo pipefail
# shellcheck source=docker/trixie-package.sh
source "$(dirname "${BASH_SOURCE[0]}")/trixie-package.sh"

version=2.26.1
deb_version=2.26.1-4
pool_path=pool/main/d/docker-compose/docker-compose_${deb_version}_amd64.deb
# From trixie's main/binary-amd64/Packages.xz (the package's SHA256 field).
sha256=47681197cb2b1ab88206b42a1a92fc75f50d9530a6322d03494a473eed0408ea
plugin_in_deb=usr/libexec/docker/cli-plugins/docker-compose

_fail() {
    echo "install-compose-v2: $*" >&2
    exit 1
}

_plugin_dir() {
    if [[ "$(id -u)" == 0 ]]; then
        echo /usr/local/lib/docker/cli-plugins
    else
        echo "${HOME:?HOME is not set}/.docker/cli-plugins"
    fi
}

main() {
    if [[ $# -gt 0 ]]; then
        echo "usage: $0 (no arguments; DEBIAN_MIRROR=... to use another Debian mirror)" >&2
        exit 2
    fi
    command -v docker >/dev/null 2>&1 || _fail "no docker command: install Docker first (apt-get install docker.io)"
    local installed
    installed="$(docker compose version --short 2>/dev/null || true)"
    if [[ -n "$installed" ]]; then
        echo "install-compose-v2: Compose ${installed#v} is installed already (docker compose); nothing to do"
        return
    fi
    [[ "$(dpkg --print-architecture 2>/dev/null || uname -m)" =~ ^(amd64|x86_64)$ ]] ||
        _fail "this pins the amd64 package; this machine is $(uname -m)"
    trixie_require_tools

    local work dir
    work="$(mktemp -d "${TMPDIR:-/tmp}/compose-v2.XXXXXX")"
    # shellcheck disable=SC2064  # expand $work now
    trap "rm -rf '$work'" EXIT
    trixie_fetch "$pool_path" "$sha256" "$work/root"
    [[ -x "$work/root/$plugin_in_deb" ]] || _fail "the package holds no $plugin_in_deb"

    dir="$(_plugin_dir)"
    mkdir -p "$dir" || _fail "cannot create $dir"
    # A temporary name first, so a `docker compose` running meanwhile never sees half a file.
    install -m 0755 "$work/root/$plugin_in_deb" "$dir/docker-compose.tmp" ||
        _fail "cannot write $dir/docker-compose.tmp"
    mv -f "$dir/docker-compose.tmp" "$dir/docker-compose" || _fail "cannot write $dir/docker-compose"

    installed="$(docker compose version --short 2>/dev/null || true)"
    # Debian's build reports its package version: 2.26.1-4.
    [[ "${installed#v}" == "$version"* ]] ||
        _fail "installed $dir/docker-compose, but \`docker compose version\` says '${installed:-nothing}'"
    echo "install-compose-v2: installed Compose $version as $dir/docker-compose"
}

main "$@"
