import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.utils.CloseableUtils;

/**
 * Curator's LeaderLatch used the way its documentation shows: {@code start()}, then "at any time,
 * you can determine if a given instance is the leader by calling hasLeadership()" (here once a
 * second, the article's loop), and "when you are through with the LeaderLatch instance, you must
 * call close", latch first and client second, from a JVM shutdown hook on SIGTERM.
 *
 * <p>Nothing is added that Curator's users would have to think of themselves: the client is what
 * {@code CuratorFrameworkFactory.newClient} builds (see {@code WorkerSupport.newClient}) with the
 * Getting Started page's {@code ExponentialBackoffRetry(1000, 3)} and the article's 10 s session;
 * the connection state error policy is the default (SUSPENDED and LOST both end leadership). The
 * one listener added only logs the connection states, for the reader of the benchmark's logs.
 *
 * <p>What that gives, by design: leadership is noticed at the next poll (0 to 1 s late), and it
 * ends when Curator's own thread delivers SUSPENDED, which a frozen JVM delivers only after it
 * has run again for a moment.
 */
public final class CuratorLatchWorker {
    public static void main(String[] args) throws Exception {
        WorkerSupport out = WorkerSupport.parse("CuratorLatchWorker", args);
        CuratorFramework client = out.newClient();
        client.getConnectionStateListenable().addListener((c, state) -> out.connectionState(c, state));
        client.start();
        LeaderLatch latch = new LeaderLatch(client, out.flags.root, out.flags.name);
        latch.start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            CloseableUtils.closeQuietly(latch);
            CloseableUtils.closeQuietly(client);
            out.log("info", "shutdown", "latch and client closed", "");
        }, "close"));
        out.log("info", "started", "candidate " + out.flags.name + " joined " + out.flags.root, "");
        while (true) {
            if (latch.hasLeadership()) {
                out.processing();
            }
            Thread.sleep(out.flags.intervalMs);
        }
    }
}
