import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.HashSet;
import java.util.Set;

/**
 * What every Java candidate (the article's worker, the benchmark's Curator workers) shares:
 * the project's log contract, one JSON object per line on stdout with the fields the Python
 * workers write ({@code time}, {@code level}, {@code service}, {@code event},
 * {@code message}, then the event's own), so one checker reads every candidate alike; and
 * the flags their command lines share ({@link Flags}), where a bad argument is an
 * IllegalArgumentException.
 */
final class CandidateIO {
    /** The "Processing... 2026-11-30T21:50:59Z" stamp of a processing line. */
    static final DateTimeFormatter SECONDS =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss'Z'").withZone(ZoneOffset.UTC);
    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'").withZone(ZoneOffset.UTC);

    private CandidateIO() {}

    /** One line; {@code extra} is more fields, already JSON, each led by a comma (or ""). */
    static void write(String service, String level, String event, String message, String extra) {
        String line = "{\"time\":" + quote(TIME.format(Instant.now().truncatedTo(ChronoUnit.MICROS)))
                + ",\"level\":" + quote(level) + ",\"service\":" + quote(service)
                + ",\"event\":" + quote(event) + ",\"message\":" + quote(message) + extra + "}";
        synchronized (System.out) {
            System.out.println(line);
            System.out.flush();
        }
    }

    /** {@code text} as a JSON string ({@code null} for null). */
    static String quote(String text) {
        if (text == null) {
            return "null";
        }
        StringBuilder out = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }

    /**
     * A candidate's command line: the flags every candidate takes, {@code --connect H:P,...
     * --name NAME [--root /leader-election] [--session-timeout-ms 10000] [--interval-ms 1000]},
     * and the on/off switches a program names for itself.
     */
    static final class Flags {
        String connect;
        String name;
        String root = "/leader-election";
        int sessionTimeoutMs = 10000;
        long intervalMs = 1000;
        private final Set<String> switches = new HashSet<>();

        private Flags() {}

        /** {@code args} read, {@code switches} being the program's own flags without a value;
         * on an unknown or malformed flag, or a missing required one, one line on stderr and
         * exit 2. */
        static Flags parseOrExit(String program, String[] args, String... switches) {
            try {
                return parse(args, switches);
            } catch (IllegalArgumentException e) {
                System.err.println(program + ": " + e.getMessage());
                System.exit(2);
                throw e; // not reached
            }
        }

        private static Flags parse(String[] args, String... switches) {
            Flags flags = new Flags();
            Set<String> known = Set.of(switches);
            for (int i = 0; i < args.length; i++) {
                String flag = args[i];
                switch (flag) {
                    case "--connect" -> flags.connect = value(args, ++i, flag);
                    case "--name" -> flags.name = value(args, ++i, flag);
                    case "--root" -> flags.root = value(args, ++i, flag);
                    case "--session-timeout-ms" ->
                            flags.sessionTimeoutMs = number(value(args, ++i, flag), flag);
                    case "--interval-ms" -> flags.intervalMs = number(value(args, ++i, flag), flag);
                    default -> {
                        if (!known.contains(flag)) {
                            throw new IllegalArgumentException("unknown argument " + flag);
                        }
                        flags.switches.add(flag);
                    }
                }
            }
            if (flags.connect == null || flags.connect.isEmpty()) {
                throw new IllegalArgumentException("--connect is required (host:port,...)");
            }
            if (flags.name == null || flags.name.isEmpty()) {
                throw new IllegalArgumentException("--name is required");
            }
            return flags;
        }

        /** Whether the switch {@code flag} was given. */
        boolean on(String flag) {
            return switches.contains(flag);
        }
    }

    /** The value after {@code flag} at {@code args[i]}; a missing one is a usage error. */
    private static String value(String[] args, int i, String flag) {
        if (i >= args.length) {
            throw new IllegalArgumentException(flag + " needs a value");
        }
        return args[i];
    }

    /** {@code text} as a positive integer; anything else is a usage error naming {@code flag}. */
    private static int number(String text, String flag) {
        try {
            int n = Integer.parseInt(text);
            if (n <= 0) {
                throw new NumberFormatException("not positive");
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " must be a positive integer (got " + text + ")");
        }
    }
}
