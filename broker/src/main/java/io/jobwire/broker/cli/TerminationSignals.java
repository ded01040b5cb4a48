package io.jobwire.broker.cli;

import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.List;

/**
 * Handles SIGTERM and SIGINT ourselves instead of through shutdown hooks. Shutdown hooks run all at
 * once, and the embedded PostgreSQL library registers one that stops the database immediately, which
 * would cut off the drain. Handling the signal lets the broker drain first and stop the database last.
 *
 * <p>{@code sun.misc.Signal} is reached by reflection: it is a supported JDK API (module
 * jdk.unsupported) but compiling against it directly warns.
 */
final class TerminationSignals {
    private TerminationSignals() {
    }

    /** Runs {@code onSignal} (on the JVM's signal thread) for SIGTERM and SIGINT. False if unsupported. */
    static boolean install(Runnable onSignal) {
        try {
            Class<?> signalClass = Class.forName("sun.misc.Signal");
            Class<?> handlerClass = Class.forName("sun.misc.SignalHandler");
            Object handler = Proxy.newProxyInstance(TerminationSignals.class.getClassLoader(),
                    new Class<?>[] {handlerClass}, (proxy, method, args) -> switch (method.getName()) {
                        case "handle" -> {
                            onSignal.run();
                            yield null;
                        }
                        case "hashCode" -> System.identityHashCode(proxy);
                        case "equals" -> proxy == args[0];
                        default -> "jobwire termination handler";
                    });
            Constructor<?> newSignal = signalClass.getConstructor(String.class);
            Method handle = signalClass.getMethod("handle", signalClass, handlerClass);
            for (String name : List.of("TERM", "INT")) {
                handle.invoke(null, newSignal.newInstance(name), handler);
            }
            return true;
        } catch (ReflectiveOperationException | RuntimeException e) {
            return false;
        }
    }
}
