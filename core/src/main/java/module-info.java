/**
 * Sluice core: keyed rate limits, admission control, outbound protection and health.
 *
 * <p>Only {@code dev.sluice} is API; {@code dev.sluice.internal} is not exported. Caffeine and
 * Failsafe are implementation details: no API type mentions them, so neither is read transitively.
 */
module dev.sluice.core {
  requires com.github.benmanes.caffeine;
  requires dev.failsafe.core;
  requires org.slf4j;

  exports dev.sluice;
}
