package dev.sluice.quota;

import dev.sluice.QuotaStoreException;
import java.sql.SQLException;
import org.jdbi.v3.core.ConnectionException;

/** Turns database failures into Sluice's typed exceptions. Stateless and thread-safe. */
final class Failures {
  /** SQLSTATE of invalid parameter values, such as a time zone AT TIME ZONE does not know. */
  static final String INVALID_PARAMETER = "22023";
  /** SQLSTATE raised by consume_quota for a quota the subject's plan does not define. */
  static final String UNKNOWN_QUOTA = "SLQ01";
  /** SQLSTATE of a lock wait that outlasted lock_timeout (V9 sets it on the request functions). */
  static final String LOCK_TIMEOUT = "55P03";

  private Failures() {}

  /**
   * Whether a failed call certainly did not change the database. Every call runs in its own
   * auto-commit transaction, so an error the server reported (the connection is still up) means
   * that transaction was rolled back. Only a connection that broke while the statement was in
   * flight, or a backend that was terminated, leaves the outcome unknown.
   */
  static boolean outcomeKnown(Throwable failure) {
    if (failure instanceof ConnectionException) {
      return true; // no connection: nothing was sent
    }
    SQLException sql = sqlCause(failure);
    if (sql == null || sql.getSQLState() == null) {
      return false;
    }
    String state = sql.getSQLState();
    switch (state) {
      case "08001": // could not establish the connection
      case "08003": // the connection was already closed: nothing was sent
      case "08004": // the server refused the connection
      case "57P03": // the server is starting up: refused the connection
        return true;
      default:
        // 08xxx (I/O error mid-statement), 57P01/57P02 (backend terminated): unknown.
        return !state.startsWith("08") && !state.startsWith("57P");
    }
  }

  static SQLException sqlCause(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof SQLException) {
        return (SQLException) t;
      }
    }
    return null;
  }

  /**
   * The first line of the server's message when the failure is the database's configuration
   * (a plan without the quota, a time zone PostgreSQL does not know), else null. The shipped
   * functions' own argument checks never fire here: the repository validates every argument
   * before it calls them, so 22023 can only be a stored time zone AT TIME ZONE refused.
   */
  static String configurationError(Throwable failure) {
    SQLException sql = sqlCause(failure);
    if (sql == null) {
      return null;
    }
    String state = sql.getSQLState();
    if (INVALID_PARAMETER.equals(state) || UNKNOWN_QUOTA.equals(state)) {
      String message = sql.getMessage();
      int newline = message == null ? -1 : message.indexOf('\n');
      return newline < 0 ? message : message.substring(0, newline);
    }
    return null;
  }

  /**
   * Maps a failure of a quota call: the database's configuration to
   * {@link QuotaConfigurationException}, everything else to {@link QuotaStoreException}, each
   * message naming the call ("consume of 'chat' for 'u1'") and the database's reason.
   */
  static QuotaStoreException quota(String what, RuntimeException failure) {
    String configuration = configurationError(failure);
    if (configuration != null) {
      return new QuotaConfigurationException(what + " failed, the quota database is"
          + " misconfigured (" + configuration + "; see sluice.plan_quota and the subject's plan);"
          + " nothing was applied", failure);
    }
    SQLException sql = sqlCause(failure);
    if (sql != null && LOCK_TIMEOUT.equals(sql.getSQLState())) {
      // The statement was cancelled and its transaction rolled back: nothing was applied.
      return new QuotaStoreException(what + " failed: the counter stayed locked by another session"
          + " for longer than the quota functions' lock_timeout (5 s as shipped, V9); is a session"
          + " idle in a transaction? (QuotaMaintenance.checkSystemLoad shows it); nothing was"
          + " applied", true, failure);
    }
    boolean known = outcomeKnown(failure);
    return new QuotaStoreException(
        what + " failed; " + (known ? "nothing was applied" : "the outcome is unknown") + ": "
            + failure.getMessage(), known, failure);
  }
}
