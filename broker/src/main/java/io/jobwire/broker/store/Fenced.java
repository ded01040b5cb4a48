package io.jobwire.broker.store;

import java.util.List;

/**
 * A worker write with the principal of the stream that sent it (null when the broker does not
 * authenticate). Writes of several streams are applied together, each checked against its own principal.
 */
public record Fenced<W>(String principal, W write) {
    public static <W> List<Fenced<W>> all(String principal, List<W> writes) {
        return writes.stream().map(write -> new Fenced<>(principal, write)).toList();
    }
}
