import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;

/**
 * The project's log contract for the Java candidates (the article's worker and the
 * benchmark's Curator workers): one JSON object per line on stdout, with the fields the
 * Python workers write ({@code time}, {@code level}, {@code service}, {@code event},
 * {@code message}, then the event's own), so one checker reads every candidate alike.
 */
final class JsonLog {
    /** The "Processing... 2026-11-30T21:50:59Z" stamp of a processing line. */
    static final DateTimeFormatter SECONDS =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss'Z'").withZone(ZoneOffset.UTC);
    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'").withZone(ZoneOffset.UTC);

    private JsonLog() {}

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
}
