import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.utils.CloseableUtils;

/**
 * Curator's LeaderLatch used the two ways its documentation shows: {@code start()}, then either
 * "at any time, you can determine if a given instance is the leader by calling hasLeadership()"
 * (here once a second, the article's loop: the default), or, with {@code --listener}, a
 * {@link LeaderLatchListener} that is told when leadership comes and goes, which wakes the
 * work loop at once (event-driven). Either way the loop asks {@code hasLeadership()} before each
 * unit of work, as the listener's own documentation advises ("by the time this method call
 * happens, hasLeadership has fallen back to false" may be true). "When you are through with the
 * LeaderLatch instance, you must call close", latch first and client second, from a JVM shutdown
 * hook on SIGTERM.
 *
 * <p>Nothing is added that Curator's users would have to think of themselves: the client is what
 * {@code CuratorFrameworkFactory.newClient} builds (see {@code WorkerSupport.newClient}) with the
 * Getting Started page's {@code ExponentialBackoffRetry(1000, 3)} and the article's 10 s session;
 * the connection state error policy is the default (SUSPENDED and LOST both end leadership). The
 * connection-state listener added only logs the states, for the reader of the benchmark's logs.
 *
 * <p>The listener runs on the thread that changed the latch's state, inside the latch's lock, so
 * it only releases a permit; the work runs on the main thread.
 */
public final class CuratorLatchWorker {
    public static void main(String[] args) throws Exception {
        WorkerSupport out = WorkerSupport.parse("CuratorLatchWorker", args, "--listener");
        CuratorFramework client = out.newClient();
        client.getConnectionStateListenable().addListener((c, state) -> out.connectionState(c, state));
        client.start();
        LeaderLatch latch = new LeaderLatch(client, out.flags.root, out.flags.name);
        Semaphore changed = new Semaphore(0);
        boolean listener = out.flags.on("--listener");
        if (listener) {
            latch.addListener(new LeaderLatchListener() {
                @Override
                public void isLeader() {
                    out.log("info", "leader_elected", out.flags.name + " is now the leader", "");
                    changed.release();
                }

                @Override
                public void notLeader() {
                    out.log("info", "leadership_lost", out.flags.name + " is no longer the leader", "");
                    changed.release();
                }
            });
        }
        latch.start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            CloseableUtils.closeQuietly(latch);
            CloseableUtils.closeQuietly(client);
            out.log("info", "shutdown", "latch and client closed", "");
        }, "close"));
        out.started(listener ? "LeaderLatchListener" : "hasLeadership() polled");
        while (true) {
            if (latch.hasLeadership()) {
                out.processing();
            }
            if (listener) {
                // Until the next unit of work is due, or the listener says leadership changed.
                if (changed.tryAcquire(out.flags.intervalMs, TimeUnit.MILLISECONDS)) {
                    changed.drainPermits();
                }
            } else {
                Thread.sleep(out.flags.intervalMs);
            }
        }
    }
}
