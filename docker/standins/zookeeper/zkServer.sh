#!/bin/bash
# zkServer.sh of the ZooKeeper stand-in image: `start-foreground`, as in ZooKeeper's own
# script, and nothing else (the image's CMD and the compose file need nothing else).
#
# Why not Debian's zkServer.sh: it comes with the `zookeeper` package, which depends on
# default-jre, the desktop JRE and its GTK stack; the stand-in takes the jars
# (libzookeeper-java) and a headless JRE instead. Debian's jars name their dependencies
# in their manifests' Class-Path; logback (Debian's liblogback-java) is added here, with
# $ZOOCFGDIR first, so the server logs through $ZOOCFGDIR/logback.xml, as the official
# image (ZooKeeper 3.8 and later) does.
set -euo pipefail

cfg_dir="${ZOOCFGDIR:-/conf}"
cfg="$cfg_dir/${2:-zoo.cfg}"
classpath="$cfg_dir:/usr/share/java/zookeeper.jar:/usr/share/java/logback-classic.jar:/usr/share/java/logback-core.jar"

case "${1:-}" in
start-foreground)
    echo "Using config: $cfg" >&2
    # As ZooKeeper's zkEnv.sh: a 1000 MB heap unless ZK_SERVER_HEAP says otherwise;
    # SERVER_JVMFLAGS and JVMFLAGS are word-split on purpose, as there. ZOO_LOG4J_PROP is
    # passed on as zkServer.sh does, and ignored as there: logback.xml decides.
    # shellcheck disable=SC2086
    exec java "-Xmx${ZK_SERVER_HEAP:-1000}m" ${SERVER_JVMFLAGS:-} ${JVMFLAGS:-} \
        "-Dzookeeper.log.dir=${ZOO_LOG_DIR:-/logs}" \
        "-Dzookeeper.root.logger=${ZOO_LOG4J_PROP:-INFO,CONSOLE}" \
        -XX:+HeapDumpOnOutOfMemoryError "-XX:OnOutOfMemoryError=kill -9 %p" \
        -cp "$classpath" org.apache.zookeeper.server.quorum.QuorumPeerMain "$cfg"
    ;;
*)
    echo "usage: zkServer.sh start-foreground [config file name] (the stand-in image runs nothing else)" >&2
    exit 2
    ;;
esac
