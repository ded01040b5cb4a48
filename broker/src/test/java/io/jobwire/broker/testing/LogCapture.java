package io.jobwire.broker.testing;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import org.slf4j.LoggerFactory;

/** Collects what is logged (at the levels the test configuration lets through) while it is open. */
public final class LogCapture implements AutoCloseable {
    private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

    public LogCapture() {
        appender.start();
        root.addAppender(appender);
    }

    /** The events logged with an exception attached (what shows up as a stack trace), as one line each. */
    public List<String> withStackTraces() {
        synchronized (appender.list) {
            return appender.list.stream().filter(event -> event.getThrowableProxy() != null)
                    .map(event -> event.getLevel() + " " + event.getLoggerName() + ": " + event.getFormattedMessage()
                            + " (" + event.getThrowableProxy().getClassName() + ")")
                    .toList();
        }
    }

    /** What one class logged, as "LEVEL message", in order. */
    public List<String> from(Class<?> source) {
        synchronized (appender.list) {
            return appender.list.stream().filter(event -> event.getLoggerName().equals(source.getName()))
                    .map(event -> event.getLevel() + " " + event.getFormattedMessage())
                    .toList();
        }
    }

    @Override
    public void close() {
        root.detachAppender(appender);
        appender.stop();
    }
}
