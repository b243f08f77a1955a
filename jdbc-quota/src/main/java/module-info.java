/**
 * Sluice on PostgreSQL: the shipped quota schema and functions, {@code AtomicQuotaRepository} and
 * a shared {@code RateLimitStore}.
 *
 * <p>Only {@code dev.sluice.quota} is API. Jdbi ships as an automatic module (an
 * {@code Automatic-Module-Name}, no {@code module-info}), which is the only way to require it; it
 * is transitive because {@code builder(Jdbi)} takes one. No code here names a pgjdbc class: the
 * driver is found through {@code java.sql.Driver} service binding, so it is not required.
 */
@SuppressWarnings({"requires-automatic", "requires-transitive-automatic"})
module dev.sluice.jdbc.quota {
  requires transitive dev.sluice.core;
  requires transitive java.sql;
  requires transitive org.jdbi.v3.core;

  exports dev.sluice.quota;
}
