package dev.sluice.quota;

import java.time.Duration;
import java.util.Objects;

/**
 * A backend that {@code sluice.emergency_cleanup_connections(idle_for)} ended.
 *
 * <p>Immutable and thread-safe.
 *
 * @param pid the backend's process id
 * @param user the role it belonged to (always the calling role)
 * @param applicationName its {@code application_name}, empty when unset
 * @param clientAddress its client address, empty for a Unix-socket connection
 * @param idleFor how long it had been idle in its transaction
 * @param terminated whether the termination signal was sent (false if it had already gone)
 */
public record EndedSession(
    int pid, String user, String applicationName, String clientAddress, Duration idleFor,
    boolean terminated) {

  /**
   * Validates the fields.
   *
   * @param pid the backend's process id
   * @param user the role it belonged to (always the calling role)
   * @param applicationName its {@code application_name}, empty when unset
   * @param clientAddress its client address, empty for a Unix-socket connection
   * @param idleFor how long it had been idle in its transaction
   * @param terminated whether the termination signal was sent (false if it had already gone)
   * @throws NullPointerException if a reference is null
   */
  public EndedSession {
    Objects.requireNonNull(user, "user");
    Objects.requireNonNull(applicationName, "applicationName");
    Objects.requireNonNull(clientAddress, "clientAddress");
    Objects.requireNonNull(idleFor, "idleFor");
  }
}
