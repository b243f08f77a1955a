/**
 * Sluice on PostgreSQL: the shipped quota schema and functions, {@code AtomicQuotaRepository} and
 * a shared {@code RateLimitStore}.
 *
 * <p>Only {@code dev.sluice.quota} is API. Jdbi and pgjdbc ship as automatic modules (an
 * {@code Automatic-Module-Name}, no {@code module-info}), which is the only way to require them;
 * Jdbi is transitive because {@code builder(Jdbi)} takes one. The driver is {@code provided}: users
 * bring their own version, so it is only read at compile time.
 */
@SuppressWarnings({"requires-automatic", "requires-transitive-automatic"})
module dev.sluice.jdbc.quota {
  requires transitive dev.sluice.core;
  requires transitive java.sql;
  requires transitive org.jdbi.v3.core;
  requires static org.postgresql.jdbc;

  exports dev.sluice.quota;
}
