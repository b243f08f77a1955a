package dev.sluice.servlet;

import jakarta.servlet.http.HttpServletRequest;
import java.security.Principal;
import java.util.Objects;

/**
 * Finds the authenticated user a request belongs to, for per-user limits, the queue's per-user cap
 * and quotas. Authentication must already have happened (a container login, or an earlier filter
 * that validated a token and set a request attribute): Sluice never reads a user id from an
 * unauthenticated header, because a client could then choose whose allowance to spend.
 *
 * <p>Implementations must be thread-safe.
 */
@FunctionalInterface
public interface UserKeyResolver {

  /**
   * Resolves the user of a request.
   *
   * @param request the request
   * @return the user's key, or null for an anonymous request
   */
  String resolve(HttpServletRequest request);

  /**
   * Uses {@link HttpServletRequest#getUserPrincipal()}'s name.
   *
   * @return a resolver reading the container's principal
   */
  static UserKeyResolver principal() {
    return request -> {
      Principal p = request.getUserPrincipal();
      return p == null ? null : p.getName();
    };
  }

  /**
   * Uses a request attribute set by an earlier authentication filter; its {@code toString()} is
   * the key.
   *
   * @param name the attribute's name
   * @return a resolver reading that attribute
   * @throws IllegalArgumentException if {@code name} is null or blank
   */
  static UserKeyResolver requestAttribute(String name) {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("attribute name must be non-blank but was " + name);
    }
    return request -> {
      Object value = request.getAttribute(name);
      return value == null ? null : value.toString();
    };
  }

  /**
   * Tries this resolver, then another.
   *
   * @param next the fallback
   * @return a resolver answering this one's key, or {@code next}'s when this one has none
   * @throws NullPointerException if {@code next} is null
   */
  default UserKeyResolver orElse(UserKeyResolver next) {
    Objects.requireNonNull(next, "next");
    return request -> {
      String key = resolve(request);
      return key != null ? key : next.resolve(request);
    };
  }
}
