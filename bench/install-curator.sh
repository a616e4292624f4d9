#!/usr/bin/env bash
# Install Curator 5.7.1 and the ZooKeeper 3.9.3 client for the benchmark, from Debian's packages.
#
#   bench/install-curator.sh            # or: make curator
#
# The benchmark measures Curator at the release its users run today: Debian 13 (trixie)
# ships 5.7.1 (libcurator-*-java 5.7.1+ds-1, on libzookeeper-java 3.9.3), the newest
# release reachable here; Debian 12 (bookworm), this machine's, ships 5.4.0, which has
# the double leader of CURATOR-696 (fixed upstream in 5.7.0). Like `make compose-v2`,
# this downloads the four trixie packages from the Debian mirror apt uses here
# (DEBIAN_MIRROR overrides it), checks their pinned SHA256 and unpacks them with dpkg-deb
# (docker/trixie-package.sh); nothing goes through dpkg, so the system's own packages,
# bookworm's Curator 5.4 included, stay as they are.
#
# Five jars land in CURATOR_DIR (default .build/curator-5.7.1 in this repository):
# curator-recipes, curator-framework, curator-client, zookeeper and zookeeper-jute.
# Guava and slf4j come from bookworm's /usr/share/java, as the packages' own Depends
# would have it. One change to the jars: Debian's manifests carry a Class-Path naming
# /usr/share/java/curator-framework.jar, zookeeper.jar and so on, which on this machine
# are bookworm's 5.4.0 and 3.8.0, and the JVM searches a jar's Class-Path before the rest
# of the class path: a program given the 5.7.1 jars would load half its classes from 5.4.
# So the copies here have that one manifest line removed, and the benchmark names every
# jar on the class path itself (testbed/java_candidates.py).
#
# Idempotent: when CURATOR_DIR holds this very set (its `installed` file lists the pinned
# checksums), it leaves it as it is. On failure it prints one line and exits non-zero.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=docker/trixie-package.sh
source "$here/../docker/trixie-package.sh"

# Package, pool path and SHA256, from trixie's main/binary-amd64/Packages.xz.
packages=(
    "libcurator-recipes-java 5.7.1+ds-1 pool/main/a/apache-curator/libcurator-recipes-java_5.7.1+ds-1_all.deb 5b24faee89650743343da24e9178776e8b25e8a96af0e52e5ffa238e2cc2138b"
    "libcurator-framework-java 5.7.1+ds-1 pool/main/a/apache-curator/libcurator-framework-java_5.7.1+ds-1_all.deb 7330ce984507bead4b1efa7da9303215992c4cf0b2a0f1e430f4443504a452d1"
    "libcurator-client-java 5.7.1+ds-1 pool/main/a/apache-curator/libcurator-client-java_5.7.1+ds-1_all.deb 8069fc653f8b1396a786490399545006eeff421c2e2ee21ffc6fdc6c05593ef7"
    "libzookeeper-java 3.9.3-1+deb13u1 pool/main/z/zookeeper/libzookeeper-java_3.9.3-1+deb13u1_all.deb 66abddcc0caa2c656fc1ad9c073f5c4b22f68c1ef80848922857ddb9a827d348"
)
jars=(curator-recipes curator-framework curator-client zookeeper zookeeper-jute)
dest="${CURATOR_DIR:-$(cd "$here/.." && pwd)/.build/curator-5.7.1}"

_fail() {
    echo "install-curator: $*" >&2
    exit 1
}

# _strip_class_path SRC DST: DST is SRC with no Class-Path in its manifest, every other
# entry byte for byte.
_strip_class_path() {
    python3 - "$1" "$2" <<'PY'
import sys
import zipfile

src, dst = sys.argv[1:]
with zipfile.ZipFile(src) as jar, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as out:
    for item in jar.infolist():
        data = jar.read(item)
        if item.filename == "META-INF/MANIFEST.MF":
            kept, inside = [], False
            for line in data.decode("utf-8").splitlines():
                # A manifest value continues on lines that start with one space.
                inside = inside if line.startswith(" ") else line.startswith("Class-Path:")
                if not inside:
                    kept.append(line)
            data = ("\r\n".join(kept) + "\r\n").encode("utf-8")
        out.writestr(item, data)
PY
}

_listing() {
    local line
    for line in "${packages[@]}"; do
        read -r name version _ sha256 <<<"$line"
        echo "$name $version $sha256"
    done
}

main() {
    if [[ $# -gt 0 ]]; then
        echo "usage: $0 (no arguments; CURATOR_DIR=... DEBIAN_MIRROR=... to change where from and to)" >&2
        exit 2
    fi
    if [[ -f "$dest/installed" ]] && [[ "$(cat "$dest/installed")" == "$(_listing)" ]]; then
        echo "install-curator: Curator 5.7.1 is installed already in $dest; nothing to do"
        return
    fi
    trixie_require_tools
    command -v python3 >/dev/null 2>&1 || _fail "python3 is missing (it rewrites the jars' manifests)"

    local work line name version pool_path sha256 jar
    work="$(mktemp -d "${TMPDIR:-/tmp}/curator.XXXXXX")"
    # shellcheck disable=SC2064  # expand $work now
    trap "rm -rf '$work'" EXIT
    for line in "${packages[@]}"; do
        read -r name version pool_path sha256 <<<"$line"
        trixie_fetch "$pool_path" "$sha256" "$work/root"
    done
    mkdir -p "$work/out"
    for jar in "${jars[@]}"; do
        [[ -f "$work/root/usr/share/java/$jar.jar" ]] || _fail "the packages hold no usr/share/java/$jar.jar"
        _strip_class_path "$work/root/usr/share/java/$jar.jar" "$work/out/$jar.jar" ||
            _fail "cannot rewrite the manifest of $jar.jar"
    done
    _listing >"$work/out/installed"

    # Replace the directory as a whole, so a benchmark starting meanwhile never sees half of it.
    mkdir -p "$(dirname "$dest")" || _fail "cannot create $(dirname "$dest")"
    rm -rf "$dest.tmp"
    cp -r "$work/out" "$dest.tmp" || _fail "cannot write $dest.tmp"
    rm -rf "$dest"
    mv "$dest.tmp" "$dest" || _fail "cannot write $dest"
    echo "install-curator: installed Curator 5.7.1 and the ZooKeeper 3.9.3 client in $dest"
}

main "$@"
