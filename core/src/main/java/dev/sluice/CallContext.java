package dev.sluice;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;

/**
 * Who a protected call is for, as the stages of a {@link Protection} see it: the key that rate
 * limits and quotas charge (a user id, a client IP), an idempotency id for quota consumes and
 * refunds, and free-form attributes for custom stages (a queue's priority class, a route).
 *
 * <p>Immutable and thread-safe (attribute values should be immutable too).
 *
 * @param key the key charged by rate limits and quotas
 * @param requestId an id unique to this call, used to consume and refund quota idempotently
 * @param attributes extra named values for custom stages
 */
public record CallContext(String key, String requestId, Map<String, Object> attributes) {

  /**
   * Validates and copies.
   *
   * @param key the key charged by rate limits and quotas
   * @param requestId an id unique to this call
   * @param attributes extra named values
   * @throws IllegalArgumentException if {@code key} or {@code requestId} is null or blank
   * @throws NullPointerException if {@code attributes} or an entry is null
   */
  public CallContext {
    if (key == null || key.isBlank()) {
      throw new IllegalArgumentException("key must be non-blank but was " + key);
    }
    if (requestId == null || requestId.isBlank()) {
      throw new IllegalArgumentException("requestId must be non-blank but was " + requestId);
    }
    LinkedHashMap<String, Object> copy = new LinkedHashMap<>();
    Objects.requireNonNull(attributes, "attributes").forEach((k, v) ->
        copy.put(Objects.requireNonNull(k, "attribute name"), Objects.requireNonNull(v, k)));
    attributes = Collections.unmodifiableMap(copy);
  }

  /**
   * A context for {@code key} with a fresh random request id and no attributes.
   *
   * @param key the key charged by rate limits and quotas
   * @return the context
   * @throws IllegalArgumentException if {@code key} is null or blank
   */
  public static CallContext of(String key) {
    return new CallContext(key, UUID.randomUUID().toString(), Map.of());
  }

  /**
   * A copy with one more attribute.
   *
   * @param name the attribute's name
   * @param value its value
   * @return a new context
   * @throws NullPointerException if {@code name} or {@code value} is null
   */
  public CallContext with(String name, Object value) {
    LinkedHashMap<String, Object> more = new LinkedHashMap<>(attributes);
    more.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(value, "value"));
    return new CallContext(key, requestId, more);
  }

  /**
   * Reads an attribute.
   *
   * @param name the attribute's name
   * @return its value, if set
   */
  public Optional<Object> attribute(String name) {
    return Optional.ofNullable(attributes.get(name));
  }
}
