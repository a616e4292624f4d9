#!/usr/bin/env bash
# The workshop's fault demos on the running compose project (`make up` first):
#
#   docker/demo.sh VERB        # stop, kill, pause, ...: one per line of docker/demos.txt
#
# The list of demos is docker/demos.txt; each VERB runs its function demo_VERB below
# (dashes as underscores).
# Each one waits until the project is steady (the ensemble serving, one worker leading,
# the others following), says what it does and what to watch for, does it with the
# user's own commands (docker compose stop/kill/pause/start, docker network
# disconnect/connect), shows the workers' log lines while it happens, and puts things
# back: it returns once all five containers run, are healthy and one worker leads again.
# While it waits (a session to expire, a quorum to return) the last line of the terminal
# says what for and counts the seconds; every wait has a deadline, after which the demo
# puts back what it changed and exits 1 with one line saying what did not happen.
#
# demo-mid-work-pause recreates the workers (a slow unit of work), so it shows its run's
# timeline and the ledger judge's verdict itself before it puts them back (with .venv from
# `make install`); DEMO_TIMELINE_OUT names the PNG it draws, and DEMO_LOGS_OUT a file it
# writes the slow workers' logs to (`logs --timestamps`): make demo-numbers sets both.
#
# COMPOSE names the Compose command (the Makefile passes `docker compose` or
# `docker-compose`); COMPOSE_PROJECT_NAME, COMPOSE_FILE and `.env` work as for Compose
# itself. The workers' health file (/tmp/health) tells which one leads; `srvr` tells
# which ZooKeeper node does. A service scaled to several containers
# (`up --scale service1=2`) works too: the demo then acts on the one container with
# `docker stop|kill|...` and names containers in the log lines.
set -euo pipefail

# Word-split on purpose: "docker compose" is two words.
# shellcheck disable=SC2206
compose=(${COMPOSE:-docker compose})
worker_services=(service1 service2)
zk_services=(zoo1 zoo2 zoo3)
# The list of demos, beside this script.
_demo_list="$(dirname "${BASH_SOURCE[0]}")/demos.txt"
# Seconds a demo waits for the project to become steady, before and after.
ready_timeout_s="${DEMO_READY_TIMEOUT_S:-120}"

# A byte no log line starts with: the script's own lines to the printer carry it.
_MARK=$'\036'

# -- output: one printer process writes the terminal ----------------------------------
# The workers' log lines (one `docker logs -f` per container), the narration and the
# waiting line all go through one FIFO to one printer, so they never garble each other.
# On a terminal the waiting line is the last line, rewritten in place; elsewhere (a pipe,
# CI) it is printed as a line of its own once a second.

_work=""
_printer_pid=""
_follower_pids=()
_undo=()
_scaled=0

_print_lines() {
    # The printer: reads `name | line` from the workers' followers (name: the service, or
    # the container when a service is scaled) and marked lines from the script. A worker
    # line is shown as "  12:00:01.234  service1  what happened", as `make logs` does:
    # a text line as the worker wrote it, its time first; a JSON line by its message.
    local tty=0 status="" line name body time message
    local re_csi=$'\e\\[[0-9;?]*[A-Za-z]'
    local re_json_time='"time": "[0-9-]+T([0-9:]+\.[0-9]{3})'
    local re_message='"message": "(([^"\\]|\\.)*)"'
    local re_text_time='^([0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}) +(.*)$'
    if [[ -t 1 ]]; then tty=1; fi
    while IFS= read -r line; do
        case "$line" in
        "$_MARK"status\ *)
            status="${line#"$_MARK"status }"
            if ((tty)); then printf '\r\e[K%s' "$status"; else printf '%s\n' "$status"; fi
            continue
            ;;
        "$_MARK"clear)
            if ((tty)) && [[ -n "$status" ]]; then printf '\r\e[K'; fi
            status=""
            continue
            ;;
        "$_MARK"say\ *)
            line="${line#"$_MARK"say }"
            ;;
        *\ \|\ *)
            name="${line%% | *}"
            body="${line#* | }"
            while [[ "$body" =~ $re_csi ]]; do body="${body/"${BASH_REMATCH[0]}"/}"; done
            if [[ "$body" == "{"* ]]; then
                time="" message="$body"
                if [[ "$body" =~ $re_json_time ]]; then time="${BASH_REMATCH[1]}"; fi
                if [[ "$body" =~ $re_message ]]; then message="${BASH_REMATCH[1]}"; fi
                line="  $time  $name  ${message//\\\"/\"}"
            elif [[ "$body" =~ $re_text_time ]]; then
                line="  ${BASH_REMATCH[1]}  $name  ${BASH_REMATCH[2]}"
            else
                line="  $name  $body"
            fi
            ;;
        esac
        if ((tty)) && [[ -n "$status" ]]; then
            printf '\r\e[K%s\n%s' "$line" "$status"
        else
            printf '%s\n' "$line"
        fi
    done
    if ((tty)) && [[ -n "$status" ]]; then printf '\r\e[K'; fi
}

_open_output() {
    _work="$(mktemp -d "${TMPDIR:-/tmp}/zk-demo.XXXXXX")"
    mkfifo "$_work/lines"
    _print_lines <"$_work/lines" &
    _printer_pid=$!
    exec 3>"$_work/lines"
}

_reap() {
    # Wait until child $1 has ended. After a stop signal `wait` alone does not: a second
    # one that came before _end_once ignored them stays pending in bash, and while a
    # trap is pending every `wait` returns at once, 128 + its number, the child still
    # running (bash 5.2's wait builtin). So the child is also polled until it is gone.
    local pid="$1"
    wait "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        sleep 0.05
        wait "$pid" 2>/dev/null || true
    done
}

_close_output() {
    # Stop the followers, let the printer write what they sent, and wait for all of them:
    # nothing of the demo prints after it returns, nothing of it runs on. (A follower's
    # line namer, its process substitution, holds the printer's FIFO open until it
    # exits: the printer's end is the namers' end too.)
    local pid
    for pid in "${_follower_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${_follower_pids[@]}"; do
        _reap "$pid"
    done
    _follower_pids=()
    if [[ -n "$_printer_pid" ]]; then
        exec 3>&-
        _reap "$_printer_pid"
        _printer_pid=""
    fi
    if [[ -n "$_work" ]]; then rm -rf "$_work"; fi
    _work=""
}

_say() { printf '%ssay \n%ssay ==> %s\n' "$_MARK" "$_MARK" "$*" >&3; }
_note() {
    # Narration, folded at 88 columns.
    local line
    while IFS= read -r line; do
        printf '%ssay %s\n' "$_MARK" "${line% }"
    done < <(printf '%s\n' "$*" | fold -s -w 88) >&3
}
_status() { printf '%sstatus   ... %s\n' "$_MARK" "$*" >&3; }
_status_clear() { printf '%sclear\n' "$_MARK" >&3; }

_run() {
    # A command the demo shows: its own output goes through the printer too.
    local line
    if ! "$@" 2>&1 | while IFS= read -r line; do printf '%ssay %s\n' "$_MARK" "$line"; done >&3; then
        _fail "\`$*\` failed"
    fi
}

# The stop signals: Ctrl-C, SIGTERM (a `kill`), a closed terminal, SIGQUIT.
_STOP_SIGNALS=(INT TERM HUP QUIT)
_ending=0

_end_once() {
    # Putting back runs once, to the end: from here on the stop signals are ignored (a
    # second Ctrl-C would otherwise kill the script halfway, or cut short the `wait` for
    # the followers), and a handler that runs again returns at once.
    trap '' "${_STOP_SIGNALS[@]}"
    trap - EXIT
    if ((_ending)); then return 1; fi
    _ending=1
}

_fail() {
    # One line on stderr, after putting back what the demo changed; exit 1.
    _end_once || return 0
    _put_back
    _close_output
    echo "demo: $*" >&2
    exit 1
}

_on_interrupt() {
    _end_once || return 0
    _put_back
    _close_output
    echo "demo: interrupted; put back what it had changed" >&2
    exit 130
}

_put_back() {
    # The undo steps of a demo that did not finish (best effort, quietly).
    local step since
    since="$(_now)"
    for step in "${_undo[@]}"; do
        eval "$step" >/dev/null 2>&1 || true
    done
    if ((${#_undo[@]})); then _keep_events "$since"; fi
    _undo=()
}

# -- the project's containers -----------------------------------------------------------

_ids() { "${compose[@]}" ps -a -q "$@" 2>/dev/null; }

_inspect() { docker inspect -f "$1" "$2" 2>/dev/null; }

_name() { local n; n="$(_inspect '{{.Name}}' "$1")"; echo "${n#/}"; }

_service() { _inspect '{{index .Config.Labels "com.docker.compose.service"}}' "$1"; }

_status_of() {
    # running, paused, exited, restarting, created, ...
    _inspect '{{.State.Status}}' "$1" || echo gone
}

_health_of() { _inspect '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1" || true; }

_worker_state() {
    # leader, follower or connecting, from the health file the worker rewrites each tick.
    docker exec "$1" cat /tmp/health 2>/dev/null | sed -n 's/.*"state": *"\([a-z]*\)".*/\1/p' || true
}

_zk_mode() {
    # srvr's Mode (leader, follower), as the compose file's healthcheck asks it.
    # shellcheck disable=SC2016  # for the container's bash
    docker exec "$1" timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/2181 && printf srvr >&3 && cat <&3' \
        2>/dev/null | sed -n 's/^Mode: //p' || true
}

_label() {
    # How the demo names a container: its service, or its container name when scaled.
    if ((_scaled)); then _name "$1"; else _service "$1"; fi
}

_target() {
    # The user's command for one container: `docker compose stop service1`, or, when its
    # service has several containers, `docker stop <container>` (Compose acts on all).
    local verb="$1" id="$2" service
    service="$(_service "$id")"
    if [[ " $_scaled_services " == *" $service "* ]]; then
        echo "docker $verb $(_name "$id")"
    else
        echo "${compose[*]} $verb $service"
    fi
}

_act() {
    # Run `_target VERB ID` (shown as the demo's own command) for each ID.
    local verb="$1" id command since
    shift
    for id in "$@"; do
        command="$(_target "$verb" "$id")"
        since="$(_now)"
        # shellcheck disable=SC2086  # the command is words: "docker compose stop zoo1"
        _run ${command}
        _keep_events "$since"
    done
}

_saved_events=.build/docker-events.jsonl
_saved_events_kept=2000 # lines, the newest: each fault a demo makes adds two to six

_keep_events() {
    # Docker's own record of what the demo just did to the project's containers (since
    # $1), kept where `make timeline` reads it: the daemon keeps only its last 256
    # events, and the health checks alone make about nine a second, so a pause or a cut
    # made half a minute before is gone from the daemon when the timeline asks.
    local since="$1" until id ids=()
    until="$(_now)"
    case "$until" in
    *.*) ;;
    *) until=$((until + 1)) ;; # whole seconds (no %N): up to the next one
    esac
    for id in "${workers[@]}" "${nodes[@]}"; do ids+=(-e "$id"); done
    mkdir -p "${_saved_events%/*}" 2>/dev/null || return 0
    {
        docker events --since "$since" --until "$until" --filter type=container \
            --filter event=kill --filter event=die --filter event=stop --filter event=pause \
            --filter event=unpause --filter event=start --format '{{json .}}'
        # A network's events name the container only in their attributes.
        docker events --since "$since" --until "$until" --filter type=network \
            --filter event=connect --filter event=disconnect --format '{{json .}}'
    } 2>/dev/null | grep -F "${ids[@]}" >>"$_saved_events" 2>/dev/null || true
    _trim_events
}

_trim_events() {
    # Only the newest lines are kept: the timeline reads the whole file each time, and
    # an old line's container is gone (or its time is long before the window asked).
    local lines
    lines="$(wc -l 2>/dev/null <"$_saved_events")" || return 0
    if ((lines > _saved_events_kept)); then
        if tail -n "$_saved_events_kept" "$_saved_events" >"$_saved_events.new" 2>/dev/null; then
            mv -f "$_saved_events.new" "$_saved_events" 2>/dev/null || true
        fi
    fi
}

workers=()
nodes=()
_scaled_services="" # services with more than one container (`up --scale`)

_discover() {
    # The project's containers, once per demo: a demo never recreates one, so ids stay.
    local service id count
    workers=()
    nodes=()
    _scaled_services=""
    for service in "${worker_services[@]}" "${zk_services[@]}"; do
        count=0
        for id in $(_ids "$service"); do
            count=$((count + 1))
            if ((count == 2)); then _scaled_services+=" $service"; fi
            if [[ " ${zk_services[*]} " == *" $service "* ]]; then nodes+=("$id"); else workers+=("$id"); fi
        done
    done
    if ((${#workers[@]} == 0 || ${#nodes[@]} == 0)); then
        _fail "the project has no containers (${compose[*]} ps); start it first: make up"
    fi
    _scaled=0
    if ((${#workers[@]} > ${#worker_services[@]})); then _scaled=1; fi
}

_follow() {
    # Show the new log lines of worker container $1 (since $2, epoch seconds) until it
    # stops or the demo ends. `docker logs -f` itself is the background job (its output
    # goes to a process substitution that names each line), so stopping it ends both.
    local id="$1" since="$2" name
    name="$(_label "$id")"
    docker logs -f --since "$since" "$id" \
        > >(while IFS= read -r line; do printf '%s | %s\n' "$name" "$line"; done >&3) 2>&1 &
    _follower_pids+=("$!")
}

_now() {
    # Epoch seconds for `docker logs --since`: with nanoseconds where date knows %N (GNU),
    # whole seconds where it does not (BSD and macOS print a literal N).
    local now
    now="$(date +%s.%N)"
    case "$now" in
    *N) date +%s ;;
    *) printf '%s\n' "$now" ;;
    esac
}

# -- waiting ------------------------------------------------------------------------------

_wait_for() {
    # _wait_for LIMIT_S "what" [ABOUT_S] -- CHECK...: poll CHECK once a second until it
    # succeeds; the waiting line counts, "(about ABOUT_S s)" when that is known.
    local limit="$1" what="$2" about="" started=$SECONDS elapsed
    shift 2
    if [[ "$1" != -- ]]; then
        about="$1"
        shift
    fi
    shift # --
    until "$@"; do
        elapsed=$((SECONDS - started))
        if ((elapsed >= limit)); then
            _status_clear
            _fail "gave up after ${limit} s waiting for $what"
        fi
        if [[ -n "$about" ]]; then
            _status "${elapsed} s: waiting for $what (about ${about} s)"
        else
            _status "${elapsed} s: waiting for $what (gives up at ${limit} s)"
        fi
        sleep 1
    done
    _status_clear
}

_countdown() {
    # _countdown SECONDS "what": a waiting line counting down to zero.
    local left="$1" what="$2"
    while ((left > 0)); do
        _status "${left} s: $what"
        sleep 1
        left=$((left - 1))
    done
    _status_clear
}

_ensemble_serves() {
    # Every running node answers srvr with a Mode (leader, follower); at least a quorum.
    local id mode serving=0
    for id in "${nodes[@]}"; do
        [[ "$(_status_of "$id")" == running ]] || continue
        mode="$(_zk_mode "$id")"
        [[ "$mode" == leader || "$mode" == follower ]] || return 1
        serving=$((serving + 1))
    done
    ((serving * 2 > ${#nodes[@]}))
}

_one_leads() {
    # Exactly one worker leads and every other running worker follows.
    local id state leaders=0
    for id in "${workers[@]}"; do
        [[ "$(_status_of "$id")" == running ]] || continue
        state="$(_worker_state "$id")"
        case "$state" in
        leader) leaders=$((leaders + 1)) ;;
        follower) ;;
        *) return 1 ;;
        esac
    done
    ((leaders == 1))
}

_all_running() {
    local id
    for id in "${nodes[@]}" "${workers[@]}"; do
        [[ "$(_status_of "$id")" == running ]] || return 1
    done
}

_all_healthy() {
    local id
    for id in "${nodes[@]}" "${workers[@]}"; do
        [[ "$(_health_of "$id")" == healthy ]] || return 1
    done
}

_steady() { _all_running && _ensemble_serves && _one_leads; }

_steady_and_healthy() { _steady && _all_healthy; }

_check_startable() {
    # A stopped or paused container does not come back by itself: say so now, not after
    # the deadline.
    local id status
    for id in "${nodes[@]}" "${workers[@]}"; do
        status="$(_status_of "$id")"
        case "$status" in
        running | restarting) ;;
        paused) _fail "$(_label "$id") is paused: $(_target unpause "$id"), then again" ;;
        *) _fail "$(_label "$id") is $status: $(_target start "$id") (or make up), then again" ;;
        esac
    done
}

_ready() {
    _check_startable
    _wait_for "$ready_timeout_s" "the ensemble to serve and one worker to lead" -- _steady
}

_found=""

_find_leader() {
    # The worker that leads, in _found.
    local id
    for id in "${workers[@]}"; do
        if [[ "$(_worker_state "$id")" == leader ]]; then
            _found="$id"
            return 0
        fi
    done
    return 1
}

_another_leads() {
    local id
    for id in "${workers[@]}"; do
        if [[ "$id" != "$1" && "$(_worker_state "$id")" == leader ]]; then return 0; fi
    done
    return 1
}

_state_is() { [[ "$(_worker_state "$1")" == "$2" ]]; }

_find_zk_leader() {
    # The ZooKeeper node in Mode: leader, in _found.
    local id
    for id in "${nodes[@]}"; do
        if [[ "$(_zk_mode "$id")" == leader ]]; then
            _found="$id"
            return 0
        fi
    done
    return 1
}

_session_timeout_s() {
    # The workers' ZK_SESSION_TIMEOUT_S, as the servers grant it (4 to 40 s with the
    # default tickTime of 2 s), in whole seconds.
    local value
    value="$(_inspect '{{range .Config.Env}}{{println .}}{{end}}' "$1" |
        sed -n 's/^ZK_SESSION_TIMEOUT_S=//p')"
    value="${value:-10}"
    if [[ "$value" == *.* ]]; then value=$((${value%%.*} + 1)); fi
    [[ "$value" =~ ^[0-9]+$ ]] || value=10
    if ((value < 4)); then value=4; fi
    if ((value > 40)); then value=40; fi
    echo "$value"
}

_others_named() {
    # The workers other than $1, by name: "service2", or "one of wsa-service1-2, ...".
    local id out="" n=0
    for id in "${workers[@]}"; do
        if [[ "$id" != "$1" ]]; then
            out+="${out:+, }$(_label "$id")"
            n=$((n + 1))
        fi
    done
    if ((n > 1)); then out="one of $out"; fi
    echo "$out"
}

_start_demo() {
    # Printer and followers first, so the steady state before the fault shows too.
    local id since
    trap _on_interrupt "${_STOP_SIGNALS[@]}"
    trap '_put_back; _close_output' EXIT
    _discover
    _open_output
    since="$(_now)"
    for id in "${workers[@]}"; do
        if [[ "$(_status_of "$id")" == running ]]; then _follow "$id" "$since"; fi
    done
    _ready
}

_finish_demo() {
    _say "back to steady: every container running and healthy, one worker leading."
    _wait_for "$ready_timeout_s" "the project to be steady and healthy again" -- _steady_and_healthy
    _undo=()
    sleep 1 # the last log lines, through the followers
    _end_once || return 0
    _close_output
}

_restart_worker() {
    # Start a stopped worker again and follow its new run.
    local id="$1" since
    since="$(_now)"
    _act start "$id"
    _follow "$id" "$since"
}

# -- the demos ------------------------------------------------------------------------------

demo_stop() {
    local leader others code
    _start_demo
    _wait_for 30 "a worker to lead" -- _find_leader
    leader="$_found"
    others="$(_others_named "$leader")"
    _say "$(_target stop "$leader"): SIGTERM to the leading worker."
    _note "Watch: $(_label "$leader") gives up leadership, closes its session and exits 0 within" \
        "a second; $others leads within a second, without waiting for a session timeout."
    _undo+=("$(_target start "$leader")")
    _act stop "$leader"
    code="$(_inspect '{{.State.ExitCode}}' "$leader")"
    _note "$(_label "$leader") exited with code $code"
    _wait_for 15 "$others to lead" -- _another_leads "$leader"
    _say "$(_target start "$leader"): it joins again, as a follower."
    _restart_worker "$leader"
    _wait_for 60 "$(_label "$leader") to follow" -- _state_is "$leader" follower
    _finish_demo
}

demo_kill() {
    local leader others timeout_s code
    _start_demo
    _wait_for 30 "a worker to lead" -- _find_leader
    leader="$_found"
    others="$(_others_named "$leader")"
    timeout_s="$(_session_timeout_s "$leader")"
    _say "$(_target kill "$leader"): SIGKILL, no goodbye; its session stays open."
    _note "Watch: no Processing for about ${timeout_s} s (the session timeout); then ZooKeeper" \
        "expires the dead session, deletes its node, and $others leads."
    _undo+=("$(_target start "$leader")")
    _act kill "$leader"
    code="$(_inspect '{{.State.ExitCode}}' "$leader")"
    _note "$(_label "$leader") exited with code $code"
    _wait_for $((timeout_s + 20)) "$(_label "$leader")'s session to expire and $others to lead" \
        "$timeout_s" -- _another_leads "$leader"
    _say "$(_target start "$leader"): it joins again, as a follower."
    _restart_worker "$leader"
    _wait_for 60 "$(_label "$leader") to follow" -- _state_is "$leader" follower
    _finish_demo
}

demo_pause() {
    local leader others timeout_s pause_s paused_at left
    _start_demo
    _wait_for 30 "a worker to lead" -- _find_leader
    leader="$_found"
    others="$(_others_named "$leader")"
    timeout_s="$(_session_timeout_s "$leader")"
    pause_s=$((timeout_s + 5))
    _say "$(_target pause "$leader") for ${pause_s} s: frozen, longer than its session."
    _note "Watch: $others leads after about ${timeout_s} s. On unpause, $(_label "$leader") learns it" \
        "lost, and follows, without one more Processing: its lease ran out while frozen."
    _undo+=("$(_target unpause "$leader")")
    paused_at=$SECONDS
    _act pause "$leader"
    _wait_for $((timeout_s + 20)) "$(_label "$leader")'s session to expire and $others to lead" \
        "$timeout_s" -- _another_leads "$leader"
    left=$((pause_s - (SECONDS - paused_at)))
    _countdown "$left" "until unpause; $(_label "$leader") stays frozen"
    _say "$(_target unpause "$leader")"
    _act unpause "$leader"
    _wait_for 30 "$(_label "$leader") to follow" -- _state_is "$leader" follower
    _finish_demo
}

demo_partition() {
    local leader others timeout_s network name alias since
    _start_demo
    _wait_for 30 "a worker to lead" -- _find_leader
    leader="$_found"
    others="$(_others_named "$leader")"
    timeout_s="$(_session_timeout_s "$leader")"
    # shellcheck disable=SC2016  # a Go template, not the shell's
    network="$(_inspect '{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}' "$leader")"
    network="${network%% *}"
    name="$(_name "$leader")"
    alias="$(_service "$leader")"
    _say "docker network disconnect $network $name: cut off from ZooKeeper, still running."
    _note "Watch: $(_label "$leader") stops Processing within $((timeout_s / 2)) s (its lease, half the" \
        "session timeout, cannot be renewed), before ZooKeeper expires its session; $others" \
        "leads after about ${timeout_s} s, when the session expires."
    _undo+=("docker network connect --alias $alias $network $leader")
    since="$(_now)"
    _run docker network disconnect "$network" "$leader"
    _keep_events "$since"
    _wait_for $((timeout_s + 25)) "$(_label "$leader")'s session to expire and $others to lead" \
        "$timeout_s" -- _another_leads "$leader"
    _countdown 3 "until $(_label "$leader") is reconnected"
    _say "docker network connect --alias $alias $network $name: back on the network."
    _note "Watch: $(_label "$leader") finds its session expired, joins again with a new node and" \
        "follows; no restart."
    since="$(_now)"
    _run docker network connect --alias "$alias" "$network" "$leader"
    _keep_events "$since"
    _wait_for 45 "$(_label "$leader") to follow" -- _state_is "$leader" follower
    _finish_demo
}

demo_zk_leader() {
    local node leader others
    _start_demo
    _wait_for 30 "a ZooKeeper node in Mode: leader" -- _find_zk_leader
    node="$_found"
    _wait_for 30 "a worker to lead" -- _find_leader
    leader="$_found"
    others="$(_others_named "$leader")"
    _say "$(_target stop "$node"): the ZooKeeper node in Mode: leader."
    _note "Watch: the two other nodes elect a new ZooKeeper leader within seconds; the workers'" \
        "connections go SUSPENDED, then CONNECTED again with the same session;" \
        "$(_label "$leader") pauses, then leads on under the same fencing token; $others never leads."
    _undo+=("$(_target start "$node")")
    _act stop "$node"
    _wait_for 30 "the two other nodes to elect a new ZooKeeper leader" -- _ensemble_serves
    _wait_for 30 "$(_label "$leader") to lead on" -- _state_is "$leader" leader
    _countdown 5 "until $(_label "$node") starts again"
    _say "$(_target start "$node"): it rejoins the ensemble as a follower."
    _act start "$node"
    _finish_demo
}

demo_quorum() {
    local node follower="" survivor="" id
    _start_demo
    _wait_for 30 "a ZooKeeper node in Mode: leader" -- _find_zk_leader
    node="$_found"
    for id in "${nodes[@]}"; do
        if [[ "$id" != "$node" ]]; then
            if [[ -z "$follower" ]]; then follower="$id"; else survivor="$id"; fi
        fi
    done
    # One command for both, as a user would type it.
    _say "${compose[*]} stop $(_service "$node") $(_service "$follower"): two of three nodes, no quorum."
    _note "Watch: $(_label "$survivor") stops serving; the workers' connections go SUSPENDED and" \
        "nobody logs Processing: no quorum, no leader."
    _undo+=("${compose[*]} start $(_service "$node") $(_service "$follower")")
    _run "${compose[@]}" stop "$(_service "$node")" "$(_service "$follower")"
    _countdown 12 "until the two nodes start again; no quorum, so nobody may work"
    _say "${compose[*]} start $(_service "$node") $(_service "$follower"): quorum back."
    _note "Watch: once the ensemble serves again, exactly one worker logs Processing."
    _run "${compose[@]}" start "$(_service "$node")" "$(_service "$follower")"
    _wait_for 90 "the ensemble to serve again and one worker to lead" -- _steady
    _finish_demo
}

_env_of() {
    # The value of environment variable $2 in container $1 ("" when unset).
    _inspect '{{range .Config.Env}}{{println .}}{{end}}' "$1" | sed -n "s/^$2=//p"
}

_logged_since() {
    # Whether container $1 logged a line matching the extended regex $3 since $2 (epoch
    # seconds); the last such line in _found. Either log format: the JSON line's event
    # name or the text line's words.
    _found="$(docker logs --since "$2" "$1" 2>&1 | grep -E "$3" | tail -n 1)" || true
    [[ -n "$_found" ]]
}

_recreate_workers() {
    # _recreate_workers WORK_S LEDGER_FENCING: the workers again with these settings
    # (Compose recreates containers whose settings changed), then follow the new ones.
    local id since
    since="$(_now)"
    _run env WORK_S="$1" LEDGER_FENCING="$2" "${compose[@]}" up -d --no-deps "${worker_services[@]}"
    _discover
    for id in "${workers[@]}"; do _follow "$id" "$since"; done
}

_python_tool() {
    # Run a host tool of the project (`python -m ...`) when `make install` made .venv;
    # its output through the printer, its exit code returned (never fails the demo).
    local line code_file="$_work/code"
    if [[ ! -x .venv/bin/python ]]; then
        _note "(make install first, and the demo shows here: python -m $1)"
        return 0
    fi
    { .venv/bin/python -m "$@" 2>&1; echo "$?" >"$code_file"; } |
        while IFS= read -r line; do printf '%ssay   %s\n' "$_MARK" "$line"; done >&3
    return "$(cat "$code_file")"
}

demo_mid_work_pause() {
    local work_s="${DEMO_WORK_S:-4}" fencing was_work was_fencing leader other timeout_s
    local pause_s paused_at since began began_s left judged=0 id out=()
    fencing="$(printf '%s' "${LEDGER_FENCING:-on}" | tr '[:upper:]' '[:lower:]')"
    case "$fencing" in
    on | off) ;;
    *)
        echo "demo: LEDGER_FENCING must be on or off (got '${LEDGER_FENCING}')" >&2
        exit 2
        ;;
    esac
    _start_demo
    if ((_scaled)); then
        _fail "this demo recreates the workers: run it with one container per service (make up)"
    fi
    was_work="$(_env_of "${workers[0]}" WORK_S)"
    was_fencing="$(_env_of "${workers[0]}" LEDGER_FENCING)"
    _say "WORK_S=$work_s LEDGER_FENCING=$fencing ${compose[*]} up -d --no-deps ${worker_services[*]}"
    _note "The workers again, with a slow unit of work: ${work_s} s between the lease check and" \
        "the unit's write to the ledger in ZooKeeper."
    if [[ "$fencing" == off ]]; then
        _note "LEDGER_FENCING=off: TEACHING ONLY. The ledger then takes every write without its" \
            "checks, as a store without fencing would; each worker logs a WARNING every minute."
    fi
    _undo+=("WORK_S=${was_work:-0} LEDGER_FENCING=${was_fencing:-on} ${compose[*]} up -d --no-deps ${worker_services[*]}")
    began="$(_now)"
    began_s=$SECONDS
    _recreate_workers "$work_s" "$fencing"
    _ready
    _wait_for 30 "a worker to lead" -- _find_leader
    leader="$_found"
    for id in "${workers[@]}"; do
        if [[ "$id" != "$leader" ]]; then other="$id"; fi
    done
    timeout_s="$(_session_timeout_s "$leader")"
    pause_s=$((timeout_s + work_s + 4))
    _say "$(_target pause "$leader") as soon as it starts a unit, for ${pause_s} s."
    _note "Watch: $(_label "$leader") checks its lease (good), starts a ${work_s} s unit and is frozen" \
        "in the middle. Its session expires after about ${timeout_s} s; $(_label "$other") leads and" \
        "records units. On unpause, $(_label "$leader") finishes its unit and writes it with its old" \
        "fencing token, as if nothing happened."
    if [[ "$fencing" == on ]]; then
        _note "Then ZooKeeper REFUSES the write: the transaction checks that the writer's election" \
            "node still exists (it went with the session) and that its token is not older than" \
            "the ledger's newest."
    else
        _note "With the checks off, ZooKeeper ACCEPTS it: the ledger holds an older leader's unit" \
            "after a newer one's. The judge (python -m testbed.ledger) says so at the end."
    fi
    since="$(_now)"
    _wait_for $((work_s + 20)) "$(_label "$leader") to start a unit" -- \
        _logged_since "$leader" "$since" 'work_started|orking on the next unit'
    _undo+=("$(_target unpause "$leader")")
    paused_at=$SECONDS
    since="$(_now)"
    _act pause "$leader"
    _wait_for $((timeout_s + 20)) "$(_label "$leader")'s session to expire and $(_label "$other") to lead" \
        "$timeout_s" -- _another_leads "$leader"
    _wait_for $((work_s + 20)) "$(_label "$other") to record a unit" -- \
        _logged_since "$other" "$since" 'Processing\.\.\. unit [0-9]+'
    left=$((pause_s - (SECONDS - paused_at)))
    if ((left > 0)); then _countdown "$left" "until unpause; $(_label "$leader") stays frozen mid-unit"; fi
    since="$(_now)"
    _say "$(_target unpause "$leader"): it finishes its unit and writes it."
    _act unpause "$leader"
    if [[ "$fencing" == on ]]; then
        _wait_for 30 "ZooKeeper's answer to $(_label "$leader")'s write" -- \
            _logged_since "$leader" "$since" 'unit_refused|unit [0-9]+ REFUSED'
        _say "REFUSED: ZooKeeper turned down the stale leader's unit; nothing of it is in the ledger:"
    else
        _wait_for 30 "ZooKeeper's answer to $(_label "$leader")'s write" -- \
            _logged_since "$leader" "$since" 'Processing\.\.\. unit [0-9]+'
        _say "ACCEPTED: with fencing off, the stale leader's unit went into the ledger:"
    fi
    printf '%s | %s\n' "$(_label "$leader")" "$_found" >&3
    _wait_for 30 "$(_label "$leader") to follow" -- _state_is "$leader" follower
    _countdown $((work_s + 2)) "$(_label "$other") records on, under its newer token"
    _say "The timeline of this run (make timeline), while the slow workers still run:"
    if [[ -n "${DEMO_TIMELINE_OUT:-}" ]]; then out=(--out "$DEMO_TIMELINE_OUT"); fi
    _python_tool workshop.timeline --compose "${compose[*]}" --last $((SECONDS - began_s + 2)) \
        --width 100 "${out[@]}" || true
    _say "The ledger's judge (make judge): the store's history against the workers' logs:"
    _python_tool testbed.ledger --compose "${compose[*]}" --since "$began" || judged=$?
    if [[ "$fencing" == on ]] && ((judged != 0)); then
        _fail "the ledger judge found a violation with fencing on (see above)"
    fi
    if [[ -n "${DEMO_LOGS_OUT:-}" ]]; then
        "${compose[@]}" logs --no-color --timestamps "${worker_services[@]}" >"$DEMO_LOGS_OUT" 2>/dev/null || true
    fi
    _say "Putting the workers back: WORK_S=${was_work:-0} LEDGER_FENCING=${was_fencing:-on}."
    _recreate_workers "${was_work:-0}" "${was_fencing:-on}"
    _finish_demo
}

_demo_verbs() {
    # The verbs of docker/demos.txt (verb|title|help|figures), in its order.
    local verb _rest
    while IFS='|' read -r verb _rest; do
        case "$verb" in
        '' | '#'*) continue ;;
        esac
        printf '%s\n' "$verb"
    done <"$_demo_list"
}

_needs() {
    # What this script needs of the shell, said in one line before anything runs. macOS
    # ships bash 3.2: its `set -u` rejects empty arrays, which the demos use throughout.
    if ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 4))); then
        echo "$0: needs bash 4.4 or later (this is ${BASH_VERSION}; on macOS: brew install bash)," \
            "or run the exercise's plain docker commands from docs/workshop.md" >&2
        exit 2
    fi
}

main() {
    local verbs verb usage
    _needs
    verbs="$(_demo_verbs)"
    usage="usage: $0 $(printf '%s' "$verbs" | tr '\n' '|')"
    if [[ $# -ne 1 ]]; then
        echo "$usage" >&2
        exit 2
    fi
    for verb in $verbs; do
        if [[ "$1" == "$verb" ]]; then
            cd "$(dirname "${BASH_SOURCE[0]}")/.."
            "demo_${verb//-/_}"
            return
        fi
    done
    echo "$usage (not '$1')" >&2
    exit 2
}

# Sourced (the unit tests read _print_lines), it only defines the functions.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
