package io.jobwire.broker.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Text given on the command line as itself, {@code @FILE} or {@code -} (standard input). A file that
 * cannot be read is a usage error with one line naming the option and the file, never a stack trace.
 */
final class Inputs {
    private Inputs() {
    }

    /** @param option the option's name for messages, e.g. {@code --payload} */
    static String read(String option, String value) {
        if (value.equals("-")) {
            try {
                return new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new IllegalArgumentException(option + " -: cannot read standard input: " + e.getMessage(), e);
            }
        }
        if (value.startsWith("@")) {
            return readFile(option + " " + value, Path.of(value.substring(1)));
        }
        return value;
    }

    /** A file named by {@code value} (a leading @ is allowed), or standard input for {@code -}. */
    static String fileOrStdin(String option, String value) {
        return read(option, value.equals("-") || value.startsWith("@") ? value : "@" + value);
    }

    static String readFile(String what, Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(what + ": no such file", e);
        } catch (AccessDeniedException e) {
            throw new IllegalArgumentException(what + ": permission denied", e);
        } catch (java.nio.charset.MalformedInputException e) {
            throw new IllegalArgumentException(what + ": not UTF-8 text", e);
        } catch (IOException e) {
            throw new IllegalArgumentException(what + ": cannot read it (" + e.getMessage() + ")", e);
        }
    }
}
