/**
 * Micrometer meters for Sluice: one {@code MeterBinder} per primitive, fed by core's listeners.
 *
 * <p>Only {@code dev.sluice.micrometer} is API. Micrometer's core jar is an automatic module
 * ({@code micrometer.core}); it is read transitively because every binder implements its
 * {@code MeterBinder}.
 */
@SuppressWarnings({"requires-automatic", "requires-transitive-automatic"})
module dev.sluice.micrometer {
  requires transitive dev.sluice.core;
  requires transitive micrometer.core;
  // Optional: only SluiceFilterMetrics (compiled when the filter's listener API is present).
  requires static transitive dev.sluice.servlet;

  exports dev.sluice.micrometer;
}
