#!/bin/bash
# Entry point of the ZooKeeper stand-in image (CI only; users run the official image).
#
# It honours the official image's environment contract, so docker-compose.yml means the
# same thing on both: ZOO_MY_ID, ZOO_SERVERS ("server.N=host:2888:3888;2181" entries
# separated by spaces), ZOO_TICK_TIME, ZOO_INIT_LIMIT, ZOO_SYNC_LIMIT,
# ZOO_AUTOPURGE_PURGEINTERVAL, ZOO_AUTOPURGE_SNAPRETAINCOUNT, ZOO_MAX_CLIENT_CNXNS,
# ZOO_STANDALONE_ENABLED, ZOO_ADMINSERVER_ENABLED, ZOO_4LW_COMMANDS_WHITELIST and
# ZOO_CFG_EXTRA (extra "key=value" entries separated by spaces). As there, zoo.cfg and
# myid are written once, on the container's first start, and kept across restarts.
set -euo pipefail

# Started as root: hand the volumes to the zookeeper user, then run again as that user
# (the official image does the same with gosu; setpriv comes with util-linux).
if [[ "${1:-}" == zkServer.sh && "$(id -u)" == 0 ]]; then
    chown -R zookeeper:zookeeper "$ZOO_DATA_DIR" "$ZOO_DATA_LOG_DIR" "$ZOO_LOG_DIR"
    exec setpriv --reuid=zookeeper --regid=zookeeper --init-groups "$0" "$@"
fi

_write_config() {
    echo "dataDir=$ZOO_DATA_DIR"
    echo "dataLogDir=$ZOO_DATA_LOG_DIR"
    echo "tickTime=$ZOO_TICK_TIME"
    echo "initLimit=$ZOO_INIT_LIMIT"
    echo "syncLimit=$ZOO_SYNC_LIMIT"
    echo "autopurge.snapRetainCount=$ZOO_AUTOPURGE_SNAPRETAINCOUNT"
    echo "autopurge.purgeInterval=$ZOO_AUTOPURGE_PURGEINTERVAL"
    echo "maxClientCnxns=$ZOO_MAX_CLIENT_CNXNS"
    echo "standaloneEnabled=$ZOO_STANDALONE_ENABLED"
    echo "admin.enableServer=$ZOO_ADMINSERVER_ENABLED"
    local entry
    # Word splitting is the contract here: entries are separated by spaces.
    for entry in ${ZOO_SERVERS:-server.1=localhost:2888:3888;2181}; do
        echo "$entry"
    done
    if [[ -n "${ZOO_4LW_COMMANDS_WHITELIST:-}" ]]; then
        echo "4lw.commands.whitelist=$ZOO_4LW_COMMANDS_WHITELIST"
    fi
    for entry in ${ZOO_CFG_EXTRA:-}; do
        echo "$entry"
    done
}

if [[ ! -f "$ZOO_CONF_DIR/zoo.cfg" ]]; then
    _write_config > "$ZOO_CONF_DIR/zoo.cfg"
fi
if [[ ! -f "$ZOO_DATA_DIR/myid" ]]; then
    echo "${ZOO_MY_ID:-1}" > "$ZOO_DATA_DIR/myid"
fi

exec "$@"
