import java.time.Instant;
import java.util.Arrays;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.Version;

/**
 * What the benchmark's Curator workers share besides Curator: the command line and the
 * project's log contract, written by testbed/java/CandidateIO.java ("processing" lines carry
 * fencing_token null, as every baseline's do), so one checker reads every contender alike.
 *
 * <p>Command line: {@code --connect H:P,... --name NAME [--root /leader-election]
 * [--session-timeout-ms 10000] [--interval-ms 1000] [--behind-proxy]} and the program's own
 * switches; a bad one exits 2.
 */
final class WorkerSupport {
    // Curator's default (CuratorFrameworkFactory): what newClient(connect, retry) uses.
    private static final int CONNECTION_TIMEOUT_MS = 15_000;

    final CandidateIO.Flags flags;
    final boolean behindProxy;

    private WorkerSupport(CandidateIO.Flags flags) {
        this.flags = flags;
        this.behindProxy = flags.on("--behind-proxy");
    }

    /** The options ({@code --behind-proxy} and the program's own {@code switches}), or exit 2
     * with one line on stderr. */
    static WorkerSupport parse(String program, String[] args, String... switches) {
        String[] known = Arrays.copyOf(switches, switches.length + 1);
        known[switches.length] = "--behind-proxy";
        return new WorkerSupport(CandidateIO.Flags.parseOrExit(program, args, known));
    }

    /**
     * The "started" line, with what this JVM really runs: the jar Curator's recipes were loaded
     * from and the ZooKeeper client's own version string, so a class path that mixed two
     * releases would show in the log.
     */
    void started(String how) {
        String recipes = String.valueOf(LeaderLatch.class.getProtectionDomain().getCodeSource().getLocation());
        log("info", "started", "candidate " + flags.name + " joined " + flags.root + " (" + how + ")",
                ",\"curator_recipes\":" + CandidateIO.quote(recipes)
                        + ",\"curator_framework\":" + CandidateIO.quote(String.valueOf(
                                CuratorFramework.class.getProtectionDomain().getCodeSource().getLocation()))
                        + ",\"zookeeper_client\":" + CandidateIO.quote(Version.getFullVersion()));
    }

    /** One unit of leader work, as the checker counts it. */
    void processing() {
        log("info", "processing", "Processing... " + CandidateIO.SECONDS.format(Instant.now()),
                ",\"fencing_token\":null");
    }

    /**
     * The client every Curator worker uses: what {@code CuratorFrameworkFactory.newClient(connect,
     * session, connection, retry)} builds, with Getting Started's ExponentialBackoffRetry(1000, 3),
     * Curator's default connection timeout (15 s) and the article's session.
     *
     * <p>One harness-only difference, behind the benchmark's fault proxy ({@code --behind-proxy}):
     * Curator's ensemble tracker reads the servers' own client addresses from /zookeeper/config and
     * replaces the connection string with them, which here would route around the proxy and out
     * of the cut being measured. In a deployment those are the addresses the user gave, which a
     * cut takes down too; so, only there, the tracker is off.
     */
    CuratorFramework newClient() {
        return CuratorFrameworkFactory.builder()
                .connectString(flags.connect)
                .sessionTimeoutMs(flags.sessionTimeoutMs)
                .connectionTimeoutMs(CONNECTION_TIMEOUT_MS)
                .retryPolicy(new ExponentialBackoffRetry(1000, 3))
                .ensembleTracker(!behindProxy)
                .build();
    }

    /** A "zk_state" line per connection state Curator reports (and the session once connected). */
    void connectionState(CuratorFramework client, ConnectionState state) {
        String session = "";
        if (state.isConnected()) {
            try {
                long id = client.getZookeeperClient().getZooKeeper().getSessionId();
                session = ",\"session_id\":" + CandidateIO.quote("0x" + Long.toHexString(id));
            } catch (Exception e) {
                session = ",\"session_id\":null";
            }
        }
        log("info", "zk_state", "connection " + state, ",\"state\":" + CandidateIO.quote(state.name()) + session);
    }

    void log(String level, String event, String message, String extra) {
        CandidateIO.write(flags.name, level, event, message, extra);
    }

}
