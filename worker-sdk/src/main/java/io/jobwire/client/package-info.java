/**
 * The Java client of Jobwire. {@code JobwireClient} and {@code Worker} arrive with the SDK issue; until
 * then, use the generated stubs in {@code io.jobwire.api.v1} (module jobwire-proto).
 */
package io.jobwire.client;
