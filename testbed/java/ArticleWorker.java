import java.time.Instant;
import java.util.concurrent.CountDownLatch;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.recipes.leader.LeaderElectionSupport;

/**
 * The article's worker, on ZooKeeper's own LeaderElectionSupport recipe (which the article's
 * ZooKeeperNetEx.Recipes package ports line by line), so the benchmark and the interop test
 * can run the article's design itself rather than our reading of it.
 *
 * <p>What it copies from the article, on purpose, flaws included:
 * <ul>
 *   <li>ZooKeeper(connectString, 10000 ms, watcher); wait for SyncConnected, however long;</li>
 *   <li>create the root if absent (exists, then create: two workers racing here can crash);</li>
 *   <li>every second, "am I leader" is getLeaderHostName().equals(myName): getChildren plus one
 *       getData per candidate, from every candidate;</li>
 *   <li>no handling of Disconnected or Expired: any exception ends the worker (the .NET host
 *       stops when a BackgroundService throws), here: one "crashed" line and exit code 1;</li>
 *   <li>SIGTERM: by default nothing is closed. The article registers its client with
 *       {@code services.AddSingleton(new ZooKeeperClient(...))}, and the .NET container never
 *       disposes an instance it did not create, so Dispose() never runs. With
 *       {@code --close-on-term} a shutdown hook does what Dispose() would: stop(), close().</li>
 * </ul>
 *
 * <p>Output: one JSON object per line on stdout, the project's log contract ("processing" with
 * fencing_token null). {@code --report-leader} adds a "leader_seen" line per second naming the
 * leader this candidate sees, for the interop test.
 *
 * <p>Usage: {@code java ArticleWorker --connect H:P,... --name service1 [--root /leader-election]
 * [--session-timeout-ms 10000] [--interval-ms 1000] [--close-on-term] [--report-leader]}
 */
public final class ArticleWorker {
    private final CandidateIO.Flags flags;
    private final boolean closeOnTerm;
    private final boolean reportLeader;

    private ZooKeeper zooKeeper;
    private LeaderElectionSupport election;

    private ArticleWorker(CandidateIO.Flags flags) {
        this.flags = flags;
        this.closeOnTerm = flags.on("--close-on-term");
        this.reportLeader = flags.on("--report-leader");
    }

    public static void main(String[] args) {
        ArticleWorker worker = new ArticleWorker(
                CandidateIO.Flags.parseOrExit("ArticleWorker", args, "--close-on-term", "--report-leader"));
        try {
            worker.run();
        } catch (Exception e) {
            // The article's BackgroundService lets any exception escape, and the host stops.
            worker.log("error", "crashed", e.getClass().getSimpleName() + ": " + e.getMessage(),
                    ",\"error\":" + CandidateIO.quote(e.getClass().getName()));
            System.exit(1);
        }
    }

    private void run() throws Exception {
        CountDownLatch connected = new CountDownLatch(1);
        // The article's ConnectionWatcher: it only ever looks for SyncConnected.
        zooKeeper = new ZooKeeper(flags.connect, flags.sessionTimeoutMs, event -> {
            if (event.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        });
        connected.await();
        if (zooKeeper.exists(flags.root, false) == null) {
            zooKeeper.create(flags.root, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        }
        election = new LeaderElectionSupport();
        election.setZooKeeper(zooKeeper);
        election.setRootNodeName(flags.root);
        election.setHostName(flags.name);
        election.start();
        if (closeOnTerm) {
            Runtime.getRuntime().addShutdownHook(new Thread(this::disposeBestEffort, "dispose"));
        }
        log("info", "started", "candidate " + flags.name + " joined " + flags.root,
                ",\"session_id\":" + CandidateIO.quote(sessionId()));
        while (true) {
            String leader = election.getLeaderHostName();
            if (reportLeader) {
                log("info", "leader_seen", "leader is " + leader, ",\"leader\":" + CandidateIO.quote(leader));
            }
            // The article compares with C#'s ==, which is null-safe; so is this.
            if (flags.name.equals(leader)) {
                Instant now = Instant.now();
                log("info", "processing", "Processing... " + CandidateIO.SECONDS.format(now),
                        ",\"fencing_token\":null,\"session_id\":" + CandidateIO.quote(sessionId()));
            }
            Thread.sleep(flags.intervalMs);
        }
    }

    /** What the article's Dispose() does: stop the election (delete the offer), close. */
    private void disposeBestEffort() {
        try {
            if (election != null) {
                election.stop();
            }
            if (zooKeeper != null) {
                zooKeeper.close();
            }
            log("info", "shutdown", "stopped and closed", "");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private String sessionId() {
        return "0x" + Long.toHexString(zooKeeper.getSessionId());
    }

    private void log(String level, String event, String message, String extra) {
        CandidateIO.write(flags.name, level, event, message, extra);
    }
}
