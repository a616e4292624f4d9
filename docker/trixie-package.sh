# shellcheck shell=bash
# Debian trixie's packages without apt: fetch one by its pool path, check its pinned
# SHA256, unpack it. Sourced (not run) by the installers that need trixie's builds on a
# bookworm machine: docker/install-compose-v2.sh (Compose v2) and bench/install-curator.sh
# (Curator 5.7.1 and the ZooKeeper 3.9.3 client).
#
#   source "$(dirname "${BASH_SOURCE[0]}")/../docker/trixie-package.sh"
#   trixie_fetch pool/main/d/docker-compose/docker-compose_2.26.1-4_amd64.deb SHA256 DIR
#
# Nothing is installed through dpkg, so apt's view of the machine does not change. The pool
# paths and checksums come from trixie's main/binary-amd64/Packages.xz (Filename, SHA256);
# a package replaced by a point release leaves the mirrors after a while, so
# DEBIAN_MIRROR=http://snapshot.debian.org/archive/debian/<date>/ reaches it again.
#
# The caller defines `_fail MESSAGE` (print one line, exit non-zero) before calling.

# The mirror apt itself uses here, so this reaches what apt reaches.
trixie_mirror() {
    local uri=""
    if [[ -n "${DEBIAN_MIRROR:-}" ]]; then
        uri="$DEBIAN_MIRROR"
    elif command -v apt-get >/dev/null 2>&1; then
        # shellcheck disable=SC2016  # $(REPO_URI) is apt's placeholder, not the shell's
        uri="$(apt-get indextargets --format '$(REPO_URI)' 'Component: main' \
            'Identifier: Packages' 2>/dev/null | grep -m 1 '/debian/*$' || true)"
    fi
    uri="${uri:-http://deb.debian.org/debian/}"
    echo "${uri%/}"
}

# What fetching needs: dpkg-deb and curl.
trixie_require_tools() {
    command -v dpkg-deb >/dev/null 2>&1 || _fail "dpkg-deb is missing (it comes with dpkg)"
    command -v curl >/dev/null 2>&1 || _fail "curl is missing: apt-get install curl"
}

# trixie_fetch POOL_PATH SHA256 DEST: download the package, check it, unpack it into DEST.
trixie_fetch() {
    local pool_path="$1" sha256="$2" dest="$3"
    local url deb
    url="$(trixie_mirror)/$pool_path"
    deb="$(mktemp "${TMPDIR:-/tmp}/trixie-deb.XXXXXX")"
    echo "downloading $url"
    if ! curl -fsL --retry 3 -o "$deb" "$url"; then
        rm -f "$deb"
        _fail "cannot download $url (set DEBIAN_MIRROR to a reachable Debian mirror)"
    fi
    if ! echo "$sha256  $deb" | sha256sum --check --status; then
        local got
        got="$(sha256sum "$deb" | cut -d' ' -f1)"
        rm -f "$deb"
        _fail "SHA256 mismatch for $url: got $got, pinned $sha256"
    fi
    mkdir -p "$dest" || _fail "cannot create $dest"
    if ! dpkg-deb -x "$deb" "$dest"; then
        rm -f "$deb"
        _fail "dpkg-deb cannot unpack $url"
    fi
    rm -f "$deb"
}
