/**
 * Sluice core: keyed rate limits, admission control, outbound protection and health.
 *
 * <p>Only {@code dev.sluice} is API; {@code dev.sluice.internal} is not exported.
 */
module dev.sluice.core {
  requires transitive com.github.benmanes.caffeine;
  requires dev.failsafe.core;
  requires org.slf4j;

  exports dev.sluice;
}
