#!/usr/bin/env bash
# Build the stand-in images that replace the official ones where no image registry can
# be reached (CI here): one for PYTHON_IMAGE, one for ZOOKEEPER_IMAGE.
#
#   docker/standins/build.sh --env-file .env              # what `make standins` runs
#   eval "$(docker/standins/build.sh)"                    # or: this shell only
#
# Prints `export ZOOKEEPER_IMAGE=... PYTHON_IMAGE=...` on stdout (progress goes to
# stderr). With --env-file FILE it also sets those two variables in FILE, keeping every
# other line of it: Compose reads `.env` in the project directory by itself, so after
# `make standins` a plain `docker compose up` in any terminal uses the stand-ins. The images
# are tagged with a hash of their inputs (this directory and requirements.txt), so a second
# run with unchanged inputs builds nothing and takes a second.
#
# How: one minbase Debian bookworm root file system (debootstrap, from the Debian mirror
# that apt on this machine uses), imported twice with `docker import`, each time with its
# own image settings:
#   python     python3 + pip (`python` and `pip` as on python:3.12-slim), the pinned
#              requirements.txt already installed, so the Dockerfiles' own
#              `pip install -r requirements.txt` finds them satisfied and needs no index;
#              Debian's EXTERNALLY-MANAGED marker (PEP 668) is removed, since the image
#              stands in for one whose Python is not Debian's.
#   zookeeper  Debian's ZooKeeper jars, logback, a headless JRE, bash (the compose
#              healthcheck's /dev/tcp) and netcat, as on the official image; the official
#              image's directories, user,
#              variables, volumes, entrypoint contract and CMD (zookeeper/ here).
# Sharing one root file system costs the Python stand-in a JRE it never uses, and saves a
# second debootstrap (about a minute and a half and 1 GB).
#
# Nothing here is used by what a user runs: docker-compose.yml defaults to the official
# images and takes these only when ZOOKEEPER_IMAGE and PYTHON_IMAGE say so.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

suite=bookworm
packages=python3,python3-pip,python-is-python3,openjdk-17-jre-headless,libzookeeper-java,liblogback-java,netcat-openbsd
repo=zk-leader-election-standin
# Downloaded .debs are kept here between builds, so a rebuild after an input change
# downloads nothing again.
cache_dir="${STANDIN_CACHE_DIR:-/var/cache/zk-leader-election-standins}"

_log() { echo "standins: $*" >&2; }

_inputs_hash() {
    # Every file that decides the images' content; file names are part of the hash too.
    (cd "$root" && sha256sum docker/standins/build.sh docker/standins/zookeeper/* requirements.txt) |
        sha256sum | cut -c1-12
}

_debian_mirror() {
    # The mirror apt itself uses here (its sources), so debootstrap reaches what apt reaches.
    if [[ -n "${DEBIAN_MIRROR:-}" ]]; then
        echo "$DEBIAN_MIRROR"
        return
    fi
    # shellcheck disable=SC2016  # $(REPO_URI) is apt's placeholder, not the shell's
    apt-get indextargets --format '$(REPO_URI)' "Release: $suite" 'Component: main' \
        'Identifier: Packages' | head -n 1
}

_set_in_env_file() {
    # ZOOKEEPER_IMAGE and PYTHON_IMAGE in a Compose .env file: earlier assignments of them
    # (and this script's own comment) go, every other line stays, in its order.
    local file="$1" zookeeper_image="$2" python_image="$3" kept comment
    comment="# The stand-in images (make standins; docker/standins/build.sh). Delete these"
    comment+=" three lines to use the official images."
    kept=""
    if [[ -f "$file" ]]; then
        kept="$(grep -v -E -e '^[[:space:]]*(export[[:space:]]+)?(ZOOKEEPER_IMAGE|PYTHON_IMAGE)=' \
            -e "^# The stand-in images \\(make standins" "$file" || true)"
    fi
    mkdir -p "$(dirname "$file")"
    # Written in place (not replaced), so the file keeps its owner and mode.
    {
        if [[ -n "$kept" ]]; then printf '%s\n' "$kept"; fi
        printf '%s\nZOOKEEPER_IMAGE=%s\nPYTHON_IMAGE=%s\n' "$comment" "$zookeeper_image" "$python_image"
    } >"$file"
}

_have_image() { docker image inspect "$1" >/dev/null 2>&1; }

_remove_stale_images() {
    # Best effort: stand-ins built from other inputs more than a day ago. Younger ones stay,
    # as does an image a container still uses: another checkout of the project (a branch
    # with other inputs) on this machine may be using them right now.
    local image created now
    now="$(date +%s)"
    for image in $(docker image ls --format '{{.Repository}}:{{.Tag}}' "$repo/*"); do
        if [[ "$image" != *":$tag" ]]; then
            created="$(date -d "$(docker image inspect -f '{{.Created}}' "$image")" +%s 2>/dev/null || echo "$now")"
            if ((now - created > 86400)) && docker image rm "$image" >/dev/null 2>&1; then
                _log "removed stale $image"
            fi
        fi
    done
}

_unmount_best_effort() {
    # debootstrap mounts proc and sys in the target and may leave them on failure.
    local mount_point
    awk -v dir="$1" 'index($2, dir) == 1 {print $2}' /proc/mounts | sort -r |
        while read -r mount_point; do
            umount -l "$mount_point" 2>/dev/null || true
        done
}

_bootstrap() {
    local rootfs="$1" wheels="$2" mirror
    mirror="$(_debian_mirror)"
    if [[ -z "$mirror" ]]; then
        _log "no Debian mirror found in apt's sources; set DEBIAN_MIRROR"
        exit 1
    fi
    _log "downloading wheels for requirements.txt (pip download)"
    python3 -m pip download --quiet --only-binary=:all: --python-version 3.11 \
        --dest "$wheels" -r "$root/requirements.txt"

    _log "debootstrap $suite from $mirror (about 1.5 minutes)"
    mkdir -p "$cache_dir"
    debootstrap --variant=minbase --include="$packages" --cache-dir="$cache_dir" \
        "$suite" "$rootfs" "$mirror" >&2

    _log "installing requirements.txt into the root file system"
    rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
    cp -r "$wheels" "$rootfs/tmp/wheels"
    cp "$root/requirements.txt" "$rootfs/tmp/requirements.txt"
    chroot "$rootfs" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root \
        PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --no-index --find-links /tmp/wheels \
        --disable-pip-version-check --no-cache-dir -r /tmp/requirements.txt >&2

    _log "adding the ZooKeeper user, directories and scripts"
    # uid/gid 1000 and these directories, as in the official image.
    chroot "$rootfs" groupadd --gid 1000 zookeeper
    chroot "$rootfs" useradd --gid zookeeper --uid 1000 --no-create-home --home-dir /data \
        --shell /usr/sbin/nologin zookeeper
    mkdir -p "$rootfs"/{conf,data,datalog,logs}
    install -m 0755 "$here/zookeeper/docker-entrypoint.sh" "$rootfs/docker-entrypoint.sh"
    install -m 0755 "$here/zookeeper/zkServer.sh" "$rootfs/usr/local/bin/zkServer.sh"
    install -m 0644 "$here/zookeeper/logback.xml" "$rootfs/conf/logback.xml"
    chroot "$rootfs" chown -R zookeeper:zookeeper /conf /data /datalog /logs

    _log "trimming"
    chroot "$rootfs" apt-get clean
    rm -rf "$rootfs"/tmp/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
        "$rootfs"/usr/share/man/* "$rootfs"/var/log/*.log "$rootfs"/var/cache/debconf/*-old
}

_import() {
    local tarball="$1" python_image="$2" zookeeper_image="$3"
    local path='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

    _log "docker import $python_image"
    docker import \
        --change "ENV $path" \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]' \
        "$tarball" "$python_image" >/dev/null

    _log "docker import $zookeeper_image"
    # The official image's settings (its Dockerfile), so the compose file sees no difference.
    docker import \
        --change "ENV $path" \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV ZOO_CONF_DIR=/conf ZOO_DATA_DIR=/data ZOO_DATA_LOG_DIR=/datalog ZOO_LOG_DIR=/logs' \
        --change 'ENV ZOO_TICK_TIME=2000 ZOO_INIT_LIMIT=5 ZOO_SYNC_LIMIT=2' \
        --change 'ENV ZOO_AUTOPURGE_PURGEINTERVAL=0 ZOO_AUTOPURGE_SNAPRETAINCOUNT=3' \
        --change 'ENV ZOO_MAX_CLIENT_CNXNS=60 ZOO_STANDALONE_ENABLED=true ZOO_ADMINSERVER_ENABLED=true' \
        --change 'ENV ZOOCFGDIR=/conf' \
        --change 'VOLUME ["/data", "/datalog", "/logs"]' \
        --change 'EXPOSE 2181 2888 3888 8080' \
        --change 'ENTRYPOINT ["/docker-entrypoint.sh"]' \
        --change 'CMD ["zkServer.sh", "start-foreground"]' \
        "$tarball" "$zookeeper_image" >/dev/null
}

_build() {
    local python_image="$1" zookeeper_image="$2" work
    if [[ "$(id -u)" != 0 ]]; then
        _log "building the stand-ins needs root (debootstrap, chroot); run with sudo"
        exit 1
    fi
    work="$(mktemp -d "${TMPDIR:-/var/tmp}/zk-standins.XXXXXX")"
    # shellcheck disable=SC2064  # expand $work now: it is local to this function
    trap "_unmount_best_effort '$work'; rm -rf '$work'" EXIT
    _bootstrap "$work/rootfs" "$work/wheels"
    _log "packing the root file system"
    tar --numeric-owner -C "$work/rootfs" -cf "$work/rootfs.tar" .
    _import "$work/rootfs.tar" "$python_image" "$zookeeper_image"
}

main() {
    local env_file=""
    while (($#)); do
        case "$1" in
        --env-file) env_file="$2"; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
        *) _log "unknown argument: $1 (try --help)"; exit 2 ;;
        esac
    done

    tag="$(_inputs_hash)"
    local python_image="$repo/python:$tag" zookeeper_image="$repo/zookeeper:$tag"
    if _have_image "$python_image" && _have_image "$zookeeper_image"; then
        _log "up to date: $python_image $zookeeper_image"
    else
        local started=$SECONDS
        _build "$python_image" "$zookeeper_image"
        _log "built in $((SECONDS - started)) s"
        _remove_stale_images
    fi

    if [[ -n "$env_file" ]]; then
        _set_in_env_file "$env_file" "$zookeeper_image" "$python_image"
        _log "set ZOOKEEPER_IMAGE and PYTHON_IMAGE in $env_file"
    fi
    echo "export ZOOKEEPER_IMAGE=$zookeeper_image PYTHON_IMAGE=$python_image"
}

main "$@"
