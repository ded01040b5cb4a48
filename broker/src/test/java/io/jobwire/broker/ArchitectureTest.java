package io.jobwire.broker;

import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

/**
 * The broker's packages depend downward only (docs/ARCHITECTURE.md draws them):
 *
 * <pre>
 * cli -> broker (assembly) -> api (the gRPC edge) -> dispatch, watch, maintenance, types, callbacks -> events -> store -> db
 *                                  convert (protos and statuses) and auth are used from the edge down
 *                                  (dispatch issues each assignment's job token); metrics is used by
 *                                  whatever counts, and read by http (the assembly's HTTP port)
 * </pre>
 *
 * A new arrow that points up, or a cycle between two packages, fails the build here.
 */
@AnalyzeClasses(packages = "io.jobwire.broker", importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {

    @ArchTest
    static final ArchRule layers = layeredArchitecture()
            .consideringOnlyDependenciesInLayers()
            .layer("cli").definedBy("io.jobwire.broker.cli..")
            .layer("assembly").definedBy("io.jobwire.broker")
            .layer("api").definedBy("io.jobwire.broker.api..")
            .layer("dispatch").definedBy("io.jobwire.broker.dispatch..")
            .layer("watch").definedBy("io.jobwire.broker.watch..")
            .layer("maintenance").definedBy("io.jobwire.broker.maintenance..")
            .layer("types").definedBy("io.jobwire.broker.types..")
            .layer("callbacks").definedBy("io.jobwire.broker.callbacks..")
            .layer("events").definedBy("io.jobwire.broker.events..")
            .layer("convert").definedBy("io.jobwire.broker.convert..")
            .layer("auth").definedBy("io.jobwire.broker.auth..")
            .layer("metrics").definedBy("io.jobwire.broker.metrics..")
            .layer("http").definedBy("io.jobwire.broker.http..")
            .layer("dashboard").definedBy("io.jobwire.broker.dashboard..")
            .layer("tracing").definedBy("io.jobwire.broker.tracing..")
            .layer("schedules").definedBy("io.jobwire.broker.schedules..")
            .layer("store").definedBy("io.jobwire.broker.store..")
            .layer("db").definedBy("io.jobwire.broker.db..")
            .whereLayer("cli").mayNotBeAccessedByAnyLayer()
            .whereLayer("assembly").mayOnlyBeAccessedByLayers("cli")
            .whereLayer("api").mayOnlyBeAccessedByLayers("assembly")
            .whereLayer("dispatch").mayOnlyBeAccessedByLayers("api", "assembly")
            .whereLayer("watch").mayOnlyBeAccessedByLayers("api", "assembly")
            .whereLayer("maintenance").mayOnlyBeAccessedByLayers("assembly")
            .whereLayer("types").mayOnlyBeAccessedByLayers("api", "assembly")
            .whereLayer("callbacks").mayOnlyBeAccessedByLayers("api", "assembly")
            .whereLayer("events").mayOnlyBeAccessedByLayers("dispatch", "watch", "maintenance", "api", "assembly")
            .whereLayer("convert").mayOnlyBeAccessedByLayers("dispatch", "watch", "maintenance", "callbacks", "api", "assembly")
            .whereLayer("auth").mayOnlyBeAccessedByLayers("dispatch", "api", "assembly", "cli")
            .whereLayer("store").mayOnlyBeAccessedByLayers("events", "convert", "dispatch", "watch", "maintenance",
                    "types", "callbacks", "api", "assembly")
            .whereLayer("db").mayOnlyBeAccessedByLayers("assembly")
            .whereLayer("http").mayOnlyBeAccessedByLayers("assembly")
            .whereLayer("dashboard").mayOnlyBeAccessedByLayers("assembly")
            .whereLayer("tracing").mayOnlyBeAccessedByLayers("api", "dispatch", "assembly")
            .whereLayer("schedules").mayOnlyBeAccessedByLayers("api", "assembly")
            .whereLayer("metrics").mayOnlyBeAccessedByLayers("http", "dispatch", "maintenance", "callbacks", "api", "assembly");

    @ArchTest
    static final ArchRule noCycles = slices().matching("io.jobwire.broker.(*)..").should().beFreeOfCycles();
}
