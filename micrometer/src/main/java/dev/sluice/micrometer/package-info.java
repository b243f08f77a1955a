/**
 * Micrometer {@code MeterBinder}s for Sluice's primitives.
 *
 * <p>Every meter is named {@code sluice.*} and tagged with the primitive's {@code name} (and any
 * common tags given to the binder), plus small fixed sets of values ({@code outcome},
 * {@code reason}, {@code state}, {@code priority}, {@code quota}, {@code component}). No meter is
 * ever tagged with a key, user, subject or address: those are unbounded and would grow the
 * registry without limit.
 *
 * <pre>{@code
 * new RateLimiterMetrics(chatLimiter).bindTo(registry);
 * new RequestQueueMetrics(queue).bindTo(registry);
 * new CircuitBreakerMetrics(pubmedBreaker).bindTo(registry);
 * }</pre>
 *
 * <p>Binding adds a listener to the primitive; bind each binder once per registry.
 */
package dev.sluice.micrometer;
