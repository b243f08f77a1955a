/**
 * Sluice on Redis: a shared {@code RateLimitStore} on Lettuce.
 *
 * <p>Only {@code dev.sluice.redis} is API. Lettuce ships as an automatic module (an
 * {@code Automatic-Module-Name}, no {@code module-info}), which is the only way to require it; it
 * is transitive because the store's builders take Lettuce connections.
 */
@SuppressWarnings({"requires-automatic", "requires-transitive-automatic"})
module dev.sluice.redis {
  requires transitive dev.sluice.core;
  requires transitive lettuce.core;
  requires org.slf4j;

  exports dev.sluice.redis;
}
