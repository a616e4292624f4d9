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
    private String connect;
    private String name;
    private String root = "/leader-election";
    private int sessionTimeoutMs = 10000;
    private long intervalMs = 1000;
    private boolean closeOnTerm;
    private boolean reportLeader;

    private ZooKeeper zooKeeper;
    private LeaderElectionSupport election;

    public static void main(String[] args) {
        ArticleWorker worker = new ArticleWorker();
        try {
            worker.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("ArticleWorker: " + e.getMessage());
            System.exit(2);
        }
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
        zooKeeper = new ZooKeeper(connect, sessionTimeoutMs, event -> {
            if (event.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        });
        connected.await();
        if (zooKeeper.exists(root, false) == null) {
            zooKeeper.create(root, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        }
        election = new LeaderElectionSupport();
        election.setZooKeeper(zooKeeper);
        election.setRootNodeName(root);
        election.setHostName(name);
        election.start();
        if (closeOnTerm) {
            Runtime.getRuntime().addShutdownHook(new Thread(this::disposeBestEffort, "dispose"));
        }
        log("info", "started", "candidate " + name + " joined " + root,
                ",\"session_id\":" + CandidateIO.quote(sessionId()));
        while (true) {
            String leader = election.getLeaderHostName();
            if (reportLeader) {
                log("info", "leader_seen", "leader is " + leader, ",\"leader\":" + CandidateIO.quote(leader));
            }
            // The article compares with C#'s ==, which is null-safe; so is this.
            if (name.equals(leader)) {
                Instant now = Instant.now();
                log("info", "processing", "Processing... " + CandidateIO.SECONDS.format(now),
                        ",\"fencing_token\":null,\"session_id\":" + CandidateIO.quote(sessionId()));
            }
            Thread.sleep(intervalMs);
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

    private void parse(String[] args) {
        for (int i = 0; i < args.length; i++) {
            String flag = args[i];
            switch (flag) {
                case "--close-on-term" -> closeOnTerm = true;
                case "--report-leader" -> reportLeader = true;
                case "--connect" -> connect = CandidateIO.value(args, ++i, flag);
                case "--name" -> name = CandidateIO.value(args, ++i, flag);
                case "--root" -> root = CandidateIO.value(args, ++i, flag);
                case "--session-timeout-ms" ->
                        sessionTimeoutMs = CandidateIO.number(CandidateIO.value(args, ++i, flag), flag);
                case "--interval-ms" ->
                        intervalMs = CandidateIO.number(CandidateIO.value(args, ++i, flag), flag);
                default -> throw new IllegalArgumentException("unknown argument " + flag);
            }
        }
        if (connect == null || connect.isEmpty()) {
            throw new IllegalArgumentException("--connect is required (host:port,...)");
        }
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("--name is required");
        }
    }

    private void log(String level, String event, String message, String extra) {
        CandidateIO.write(name, level, event, message, extra);
    }
}
