package io.jobwire.broker.cli;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.ConsoleAppender;
import net.logstash.logback.encoder.LogstashEncoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code serve --log-format}: readable text (the default, as {@code logback.xml} sets it up) or one JSON
 * object per line (logstash-logback-encoder), with the key-value pairs a line carries as fields of their
 * own ({@code job_id}, {@code job_type}, {@code owner}, {@code attempt}, {@code worker_id} where they apply).
 */
final class LogFormat {
    private LogFormat() {
    }

    static void use(String format) {
        if (format.equals("text")) {
            return;
        }
        if (!format.equals("json")) {
            throw new IllegalArgumentException("--log-format must be text or json, got '" + format + "'");
        }
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
            return; // another SLF4J binding is in charge
        }
        Appender<ILoggingEvent> appender = context.getLogger(Logger.ROOT_LOGGER_NAME).getAppender("STDERR");
        if (appender instanceof ConsoleAppender<ILoggingEvent> console) {
            LogstashEncoder encoder = new LogstashEncoder();
            encoder.setContext(context);
            encoder.start();
            console.stop();
            console.setEncoder(encoder);
            console.start();
        }
    }
}
