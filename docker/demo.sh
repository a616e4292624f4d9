#!/usr/bin/env bash
# The workshop's fault demos on the running compose project (`make up` first):
#
#   docker/demo.sh stop|kill|pause|partition|zk-leader|quorum
#
# Each one says what it does and what to watch for, does it with the user's own
# commands (docker compose stop/kill/pause, docker network disconnect), shows the
# workers' logs while it happens, and puts things back where that is part of the demo.
# COMPOSE names the Compose command (the Makefile passes `docker compose` or
# `docker-compose`); the workers' health file tells which one leads.
set -euo pipefail

# Word-split on purpose: "docker compose" is two words.
# shellcheck disable=SC2206
compose=(${COMPOSE:-docker compose})
session_timeout_s=10

_say() { printf '\n==> %s\n' "$*"; }

_pretty() {
    # "12:00:01.234  service1  Processing... ..." from each JSON line; compose's own
    # "... exited with code N" lines pass as they are.
    sed -u -n \
        -e 's/^.*{"time": "[0-9-]*T\([0-9:]*\.[0-9]\{3\}\)[0-9]*Z", "level": "[A-Z]*", "service": "\([^"]*\)", "event": "[^"]*", "message": "\([^"]*\)".*$/  \1  \2  \3/p' \
        -e '/exited with code/p'
}

_follow() {
    # Show the workers' new log lines, in the background, for the next $1 seconds.
    timeout "$1" "${compose[@]}" logs -f --tail=0 --no-color service1 service2 2>/dev/null |
        _pretty &
    sleep 2 # time for the follower to attach before anything happens
}

_container() { "${compose[@]}" ps -q "$1"; }

_worker_state() {
    # "leader", "follower" or "connecting", from the health file the worker rewrites each tick.
    "${compose[@]}" exec -T "$1" cat /tmp/health 2>/dev/null |
        sed -n 's/.*"state": *"\([a-z]*\)".*/\1/p'
}

_leader() {
    local service
    for service in service1 service2; do
        if [[ "$(_worker_state "$service")" == leader ]]; then
            echo "$service"
            return
        fi
    done
    echo "no worker leads right now: is the project up (make up) and past its start?" >&2
    exit 1
}

_other() { if [[ "$1" == service1 ]]; then echo service2; else echo service1; fi; }

_zk_mode() {
    "${compose[@]}" exec -T "$1" sh -c 'echo srvr | nc -w 2 localhost 2181' 2>/dev/null |
        sed -n 's/^Mode: //p'
}

_zk_leader() {
    local node
    for node in zoo1 zoo2 zoo3; do
        if [[ "$(_zk_mode "$node")" == leader ]]; then
            echo "$node"
            return
        fi
    done
    echo "no ZooKeeper node is in Mode: leader (is the ensemble up and healthy?)" >&2
    exit 1
}

demo_stop() {
    local leader other
    leader="$(_leader)"
    other="$(_other "$leader")"
    _say "docker compose stop $leader: SIGTERM to the leading worker."
    echo "Watch: $leader logs 'Leadership lost (shutdown)' and exits 0 within a second;"
    echo "$other logs 'Leading the election' and its first Processing within a second."
    _follow 14
    "${compose[@]}" stop "$leader"
    docker inspect -f "$leader exited with code {{.State.ExitCode}}" "$(_container "$leader")"
    sleep 4
    _say "docker compose start $leader: it joins again, as a follower."
    "${compose[@]}" start "$leader"
    wait
}

demo_kill() {
    local leader other
    leader="$(_leader)"
    other="$(_other "$leader")"
    _say "docker compose kill $leader: SIGKILL, no goodbye; its session stays open."
    echo "Watch: no Processing for about ${session_timeout_s} s (the session timeout); then"
    echo "ZooKeeper expires the dead session, deletes its node, and $other leads."
    _follow $((session_timeout_s + 14))
    "${compose[@]}" kill "$leader"
    sleep $((session_timeout_s + 5))
    _say "docker compose start $leader: it joins again, as a follower."
    "${compose[@]}" start "$leader"
    wait
}

demo_pause() {
    local leader other pause_s=$((session_timeout_s + 5))
    leader="$(_leader)"
    other="$(_other "$leader")"
    _say "docker compose pause $leader for ${pause_s} s: frozen, longer than its session."
    echo "Watch: $other leads after about ${session_timeout_s} s. On unpause, $leader logs"
    echo "'Leadership lost' and 'Following', and not one Processing: its lease ran out."
    _follow $((pause_s + 10))
    "${compose[@]}" pause "$leader"
    sleep "$pause_s"
    _say "docker compose unpause $leader"
    "${compose[@]}" unpause "$leader"
    wait
}

demo_partition() {
    local leader other container network
    leader="$(_leader)"
    other="$(_other "$leader")"
    container="$(_container "$leader")"
    network="$(docker inspect -f '{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}' "$container")"
    network="${network%% *}"
    _say "docker network disconnect $network $leader: cut off from ZooKeeper, still running."
    echo "Watch: $leader stops Processing within $((session_timeout_s / 2)) s (its lease, half the session"
    echo "timeout, cannot be renewed), before ZooKeeper expires its session; $other leads"
    echo "after about ${session_timeout_s} s, when the session expires."
    _follow $((session_timeout_s + 22))
    docker network disconnect "$network" "$container"
    sleep $((session_timeout_s + 6))
    _say "docker network connect --alias $leader $network $leader: back on the network."
    echo "Watch: $leader finds its session expired (LOST), joins again with a new node"
    echo "and follows $other; no restart."
    docker network connect --alias "$leader" "$network" "$container"
    wait
}

demo_zk_leader() {
    local node leader other
    node="$(_zk_leader)"
    leader="$(_leader)"
    other="$(_other "$leader")"
    _say "docker compose stop $node: the ZooKeeper node in Mode: leader."
    echo "Watch: the two other nodes elect a new ZooKeeper leader within seconds; the"
    echo "workers' connections go SUSPENDED, then CONNECTED again with the same session;"
    echo "$leader pauses, then leads on under the same fencing token; $other never leads."
    _follow 16
    "${compose[@]}" stop "$node"
    sleep 8
    _say "docker compose start $node: it rejoins the ensemble as a follower."
    "${compose[@]}" start "$node"
    wait
}

demo_quorum() {
    local node other_nodes=() n
    node="$(_zk_leader)"
    for n in zoo1 zoo2 zoo3; do
        if [[ "$n" != "$node" ]]; then other_nodes+=("$n"); fi
    done
    _say "docker compose stop $node ${other_nodes[0]}: two of three nodes, no quorum."
    echo "Watch: ${other_nodes[1]} stops serving; the workers' connections go SUSPENDED and"
    echo "nobody logs Processing: no quorum, no leader."
    _follow 40
    "${compose[@]}" stop "$node" "${other_nodes[0]}"
    sleep 12
    _say "docker compose start $node ${other_nodes[0]}: quorum back."
    echo "Watch: once the ensemble serves again, exactly one worker logs Processing."
    "${compose[@]}" start "$node" "${other_nodes[0]}"
    wait
}

case "${1:-}" in
stop) demo_stop ;;
kill) demo_kill ;;
pause) demo_pause ;;
partition) demo_partition ;;
zk-leader) demo_zk_leader ;;
quorum) demo_quorum ;;
*)
    echo "usage: $0 stop|kill|pause|partition|zk-leader|quorum" >&2
    exit 2
    ;;
esac
