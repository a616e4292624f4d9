import java.io.Closeable;
import java.util.concurrent.CountDownLatch;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.utils.CloseableUtils;

/**
 * Curator's LeaderSelector the way Curator's own example ({@code leader.ExampleClient}) uses it:
 * the worker extends {@code LeaderSelectorListenerAdapter} (whose {@code stateChanged} throws
 * {@code CancelLeadershipException} on SUSPENDED or LOST, so the selector interrupts the leader's
 * thread), calls {@code autoRequeue()}, and does its work inside {@code takeLeadership}, which
 * returns only to give leadership up; an interrupt ends it the way the example's does. On SIGTERM a
 * shutdown hook closes what the example's {@code finally} closes, in its order: the selector
 * ({@code closeQuietly(example)}), then the client.
 *
 * <p>The client, retry policy and session are the LeaderLatch worker's. The one listener added
 * only logs the connection states.
 */
public final class CuratorSelectorWorker extends LeaderSelectorListenerAdapter implements Closeable {
    private final WorkerSupport out;
    private final LeaderSelector leaderSelector;

    CuratorSelectorWorker(CuratorFramework client, WorkerSupport out) {
        this.out = out;
        leaderSelector = new LeaderSelector(client, out.flags.root, this);
        // "for most cases you will want your instance to requeue when it relinquishes leadership"
        leaderSelector.autoRequeue();
    }

    void start() {
        leaderSelector.start();
    }

    @Override
    public void close() {
        leaderSelector.close();
    }

    @Override
    public void takeLeadership(CuratorFramework client) throws Exception {
        // "This method should not return until we want to relinquish leadership": the work loop.
        out.log("info", "leader_elected", out.flags.name + " is now the leader", "");
        try {
            while (true) {
                out.processing();
                Thread.sleep(out.flags.intervalMs);
            }
        } catch (InterruptedException e) {
            out.log("info", "interrupted", out.flags.name + " was interrupted", "");
            Thread.currentThread().interrupt();
        } finally {
            out.log("info", "relinquishing", out.flags.name + " relinquishing leadership", "");
        }
    }

    public static void main(String[] args) throws Exception {
        WorkerSupport out = WorkerSupport.parse("CuratorSelectorWorker", args);
        CuratorFramework client = out.newClient();
        client.getConnectionStateListenable().addListener(
                (c, state) -> out.connectionState(c, state));
        CuratorSelectorWorker example = new CuratorSelectorWorker(client, out);
        client.start();
        example.start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            CloseableUtils.closeQuietly(example);
            CloseableUtils.closeQuietly(client);
            out.log("info", "shutdown", "selector and client closed", "");
        }, "close"));
        out.started("LeaderSelector, autoRequeue");
        // The selector works on its own threads; main only has to stay alive (the example
        // waits for a line on stdin).
        new CountDownLatch(1).await();
    }
}
