package dev.sluice.internal;

import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The listeners of one primitive: a copy-on-write array behind one volatile field, so the call
 * path with no listener pays one volatile read and a length check, and allocates nothing. Adding
 * is rare (at start-up) and copies the array under this object's lock.
 *
 * <p>A listener that throws is reported once at WARN with its stack trace, and at DEBUG after
 * that, so a broken listener cannot flood the log of a busy service; the call that fired the
 * event is never affected. Thread-safe.
 *
 * @param <L> the listener type
 */
public final class Listeners<L> {
  private static final Logger LOG = LoggerFactory.getLogger(Listeners.class);
  private static final Object[] NONE = new Object[0];

  private final String owner;
  private volatile Object[] all = NONE;
  /** Listeners that have already thrown once; guarded by itself. */
  private final Set<Object> failed = Collections.newSetFromMap(new IdentityHashMap<>());

  /**
   * Creates an empty set.
   *
   * @param owner names the primitive in log lines, such as {@code "rate limiter 'chat'"}
   */
  public Listeners(String owner) {
    this.owner = owner;
  }

  /**
   * Adds a listener after those already added; events reach listeners in the order they were
   * added.
   *
   * @param listener the listener
   * @throws NullPointerException if {@code listener} is null
   */
  public synchronized void add(L listener) {
    Objects.requireNonNull(listener, "listener");
    Object[] next = Arrays.copyOf(all, all.length + 1);
    next[next.length - 1] = listener;
    all = next;
  }

  /**
   * The listeners now, in the order added; never modified (an add replaces the array). Callers
   * check {@code length != 0} before doing any work for an event.
   *
   * @return the listeners, possibly empty, never null
   */
  public Object[] array() {
    return all;
  }

  /**
   * Reports that a listener threw: at WARN the first time for this listener, at DEBUG after.
   *
   * @param listener the listener that threw
   * @param event the event it was given, such as {@code "onDecision"}
   * @param failure what it threw
   * @return whether this was the listener's first failure (logged at WARN)
   */
  public boolean failed(Object listener, String event, RuntimeException failure) {
    boolean first;
    synchronized (failed) {
      first = failed.add(listener);
    }
    if (first) {
      LOG.warn("{}: listener {} threw from {}; the call is not affected, and later failures of"
          + " this listener are logged at DEBUG", owner, listener, event, failure);
    } else if (LOG.isDebugEnabled()) {
      LOG.debug("{}: listener {} threw from {}", owner, listener, event, failure);
    }
    return first;
  }

  @Override
  public String toString() {
    return owner + " listeners " + Arrays.toString(all);
  }
}
