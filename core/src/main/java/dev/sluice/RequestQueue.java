package dev.sluice;

import dev.sluice.internal.DefaultRequestQueue;
import dev.sluice.internal.GradientLimit;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;

/**
 * Admission control for one service instance: at most {@code maxConcurrent} permits at once, at
 * most {@code maxConcurrentPerKey} per key (user, tenant, IP), and a bounded, prioritised wait
 * queue with a timeout. A caller holds a {@link Permit} while its work runs and closes it after.
 *
 * <pre>{@code
 * RequestQueue<String> queue = RequestQueue.builder()
 *     .name("chat-service")
 *     .maxConcurrent(20)
 *     .maxConcurrentPerKey(2)
 *     .maxQueued(200)
 *     .priorities("chat", "research", "export")   // highest first
 *     .timeout(Duration.ofSeconds(60))
 *     .build();
 *
 * try (RequestQueue.Permit permit = queue.acquire(userId, "chat")) {
 *   return answer(question);
 * } catch (QueueRejectedException e) {
 *   return serviceUnavailable(e.retryAfterSeconds());
 * }
 *
 * // Or without holding a thread while waiting:
 * queue.acquireAsync(userId, "export").thenAccept(permit -> runExport(permit));
 * }</pre>
 *
 * <p><b>Admission order.</b> A permit that frees goes to a waiter of the highest priority class
 * that has a waiter whose key is below its per-key cap. Waiters whose key is at its cap are not
 * considered, so a busy key never holds up other keys (no head-of-line blocking).
 *
 * <p><b>Fairness rule.</b> Within one priority class, <em>keys take turns</em> (round robin) and
 * each key's own waiters go oldest first. A key joins the end of the turn order when its first
 * waiter arrives, and goes back to the end after each admission. A key that reaches its per-key
 * cap leaves the turn order, and rejoins at the end when one of its permits is released. So a key
 * with 100 waiters and a key with one waiter alternate: the single waiter is admitted after at
 * most one admission of the busy key. Across priority classes the order is strict: a lower class
 * is served only when no higher class has an eligible waiter.
 *
 * <p><b>Per-key counts only when they can refuse.</b> A per-key cap equal to the global cap (the
 * default) can never refuse an attempt the global cap would admit, so such a queue keeps no count
 * per key: an uncontended try-and-close is one compare-and-set to take the permit and two to give
 * it back (one claims the permit's release, so closing twice stays harmless), and
 * {@link Stats#activeByKey()} is empty. Keys are still tracked while they have waiters, for the
 * fairness rule.
 *
 * <p><b>No leaked permits.</b> Each count (global and per key) is raised only by an atomic
 * compare-and-set that checks its cap in the same step (no check-then-act). While nobody waits, a
 * permit is taken and given back with those atomic steps alone; once anyone waits, every
 * admission and release goes through one short lock that owns the wait queues, so a freed permit
 * is always handed to an eligible waiter and never taken past it. (An attempt racing another
 * attempt on the same key may briefly see that key one permit fuller than it ends up; it is then
 * refused or waits, never admitted past a cap.) Each waiter moves exactly
 * once, under that lock, from waiting to granted or to removed; a timeout, a cancel, an interrupt,
 * a {@link #drain()} and a {@link #close()} can only remove a waiter that is still waiting. A
 * granted permit is then delivered with {@link CompletableFuture#complete}; if the future was
 * completed first by anyone else (cancelled, {@code orTimeout}, a user's {@code complete}), that
 * call fails and the permit is released at once, which hands it to the next waiter. A timed-out
 * waiter therefore can never swallow a later release (failsafe-lib/failsafe#393), and in-flight
 * work never exceeds a cap (Netflix/concurrency-limits#233). {@link Permit#close()} releases at
 * most once, however often it is called.
 *
 * <p><b>Threads.</b> Waiting holds no thread in {@link #acquireAsync(Object, String)}. Futures are
 * completed on the thread that freed the permit or ended the wait: a caller closing its permit,
 * the {@link TaskScheduler}'s thread, or the caller of {@link #drain()} or {@link #close()}.
 * Attach slow continuations with the {@code ...Async} methods and your own executor.
 *
 * <p><b>Accounting.</b> Every attempt ends exactly once as admitted, rejected for one
 * {@link QueueRejectedException.Reason}, or cancelled by its caller (a cancelled future, an
 * interrupted {@link #acquire}); {@link #stats()} counts each.
 *
 * <p><b>Adaptive limit.</b> With {@link Builder#adaptiveLimit(AdaptiveLimit)} the global cap is
 * not fixed: it follows the latency of the admitted work (each permit's hold time), between a
 * floor and a ceiling, and each lower priority class may only use a share of it, so lower classes
 * are shed first when it falls. {@link #maxConcurrent()} and {@link Stats#limit()} then show its
 * current value. Such a queue takes a short lock for every admission and release, and reads the
 * clock for each permit; a queue with a fixed cap does neither. See {@link AdaptiveLimit}.
 *
 * <p><b>Thread safety.</b> Instances are thread-safe.
 *
 * @param <K> the key type; keys must implement {@code equals} and {@code hashCode}
 */
public interface RequestQueue<K> extends AutoCloseable {

  /**
   * Takes a permit if one is free for this key right now; never waits and never queues.
   *
   * @param key the key to charge
   * @param priority a priority class declared on the builder
   * @return the permit, or empty if none is free (counted as {@code QUEUE_FULL}) or the queue is
   *     closed (counted as {@code SHUT_DOWN}); use {@link #tryAcquireOrThrow} for the figures
   * @throws NullPointerException if {@code key} or {@code priority} is null
   * @throws IllegalArgumentException if {@code priority} is not a declared class
   */
  Optional<Permit> tryAcquire(K key, String priority);

  /**
   * Takes a permit if one is free for this key right now, otherwise throws at once.
   *
   * @param key the key to charge
   * @param priority a priority class declared on the builder
   * @return the permit
   * @throws QueueRejectedException with {@code QUEUE_FULL} if no permit is free, or
   *     {@code SHUT_DOWN} if the queue is closed
   * @throws NullPointerException if {@code key} or {@code priority} is null
   * @throws IllegalArgumentException if {@code priority} is not a declared class
   */
  Permit tryAcquireOrThrow(K key, String priority);

  /**
   * Takes a permit, waiting up to the configured timeout.
   *
   * @param key the key to charge
   * @param priority a priority class declared on the builder
   * @return the permit; close it when the work is done
   * @throws QueueRejectedException if the queue is full, the wait timed out, or the queue was
   *     drained or closed
   * @throws InterruptedException if the thread is interrupted while waiting; the attempt is then
   *     cancelled and holds no permit (an attempt admitted without waiting returns its permit and
   *     leaves the interrupt status alone)
   * @throws NullPointerException if {@code key} or {@code priority} is null
   * @throws IllegalArgumentException if {@code priority} is not a declared class
   */
  Permit acquire(K key, String priority) throws InterruptedException;

  /**
   * Takes a permit, waiting up to {@code timeout}. The wait ends by the queue's
   * {@link TaskScheduler}, so a fake clock can time it out.
   *
   * @param key the key to charge
   * @param priority a priority class declared on the builder
   * @param timeout the longest wait, &gt; 0
   * @return the permit; close it when the work is done
   * @throws QueueRejectedException if the queue is full, the wait timed out, or the queue was
   *     drained or closed
   * @throws InterruptedException if the thread is interrupted while waiting; the attempt is then
   *     cancelled and holds no permit
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code priority} is not a declared class or
   *     {@code timeout} is not positive
   */
  Permit acquire(K key, String priority, Duration timeout) throws InterruptedException;

  /**
   * Asks for a permit without holding a thread while waiting, up to the configured timeout.
   *
   * @param key the key to charge
   * @param priority a priority class declared on the builder
   * @return a future completed with the permit, or exceptionally with a
   *     {@link QueueRejectedException}; {@code cancel} on it withdraws the attempt (if
   *     {@code cancel} returns false the future already holds a permit, which the caller must
   *     close). {@code obtrudeValue} and {@code obtrudeException} are not supported.
   * @throws NullPointerException if {@code key} or {@code priority} is null
   * @throws IllegalArgumentException if {@code priority} is not a declared class
   */
  CompletableFuture<Permit> acquireAsync(K key, String priority);

  /**
   * Asks for a permit without holding a thread while waiting, up to {@code timeout}.
   *
   * @param key the key to charge
   * @param priority a priority class declared on the builder
   * @param timeout the longest wait, &gt; 0
   * @return as {@link #acquireAsync(Object, String)}
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code priority} is not a declared class or
   *     {@code timeout} is not positive
   */
  CompletableFuture<Permit> acquireAsync(K key, String priority, Duration timeout);

  /**
   * Runs {@code task} holding a permit (waiting up to the configured timeout), and releases the
   * permit when it returns or throws.
   *
   * @param <T> the task's result type
   * @param key the key to charge
   * @param priority a priority class declared on the builder
   * @param task the work to run
   * @return what {@code task} returned
   * @throws QueueRejectedException if no permit was obtained
   * @throws InterruptedException if interrupted while waiting
   * @throws Exception whatever {@code task} threw
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code priority} is not a declared class
   */
  default <T> T call(K key, String priority, Callable<T> task) throws Exception {
    Objects.requireNonNull(task, "task");
    Permit permit = acquire(key, priority);
    try {
      return task.call();
    } finally {
      permit.close();
    }
  }

  /**
   * A snapshot of the queue's figures, taken under the queue's lock. Counts are exact once the
   * attempts and releases in flight at that instant have returned; while they run, a key's count
   * may already show a change its global count does not yet.
   *
   * @return the snapshot
   */
  Stats<K> stats();

  /**
   * Turns queueing off or on at run time (the rollback switch). While bypassed every attempt is
   * admitted at once, ignoring the caps, and turning bypass on admits every current waiter.
   * Permits taken while bypassed still count as active, so when bypass is turned off new
   * attempts wait until the counts are back under the caps.
   *
   * @param bypassed whether to bypass the caps
   */
  void bypass(boolean bypassed);

  /**
   * Whether the caps are bypassed.
   *
   * @return the current switch
   */
  boolean isBypassed();

  /**
   * Fails every current waiter with {@link QueueRejectedException.Reason#DRAINED} (the operator's
   * "reset queue" action). Running permits are not touched and the queue stays open.
   *
   * @return how many waiters were failed
   */
  int drain();

  /**
   * Closes the queue: fails every waiter with {@link QueueRejectedException.Reason#SHUT_DOWN} and
   * refuses later attempts with it. Running permits can still be closed. Idempotent.
   */
  @Override
  void close();

  /**
   * Whether {@link #close()} was called.
   *
   * @return true once closed
   */
  boolean isClosed();

  /**
   * Adds a listener, told of every later attempt and release, after those already added. See
   * {@link QueueListener} for what is reported, threading and order. Every queue Sluice builds
   * supports it.
   *
   * <p>The default throws, for implementations outside Sluice written before listeners existed.
   *
   * @param listener the listener
   * @throws NullPointerException if {@code listener} is null
   * @throws UnsupportedOperationException if this implementation has no listeners (never for
   *     Sluice's own)
   */
  default void addListener(QueueListener<? super K> listener) {
    Objects.requireNonNull(listener, "listener");
    throw new UnsupportedOperationException(getClass().getName() + " does not support listeners");
  }

  /**
   * The name given to the builder.
   *
   * @return the queue's name, used in messages and health reports
   */
  String name();

  /**
   * The global cap on permits held at once: the fixed cap, or the adaptive limit's current value.
   *
   * @return {@code maxConcurrent}, or the current adaptive limit
   */
  int maxConcurrent();

  /**
   * Whether the global cap is an adaptive limit ({@link Builder#adaptiveLimit(AdaptiveLimit)}).
   *
   * @return true if the cap adapts to latency
   */
  default boolean isAdaptive() {
    return false;
  }

  /**
   * The cap on permits one key holds at once.
   *
   * @return {@code maxConcurrentPerKey}
   */
  int maxConcurrentPerKey();

  /**
   * The bound on attempts waiting at once.
   *
   * @return {@code maxQueued}
   */
  int maxQueued();

  /**
   * The default longest wait.
   *
   * @return the timeout used when an acquire names none
   */
  Duration timeout();

  /**
   * The priority classes, highest first.
   *
   * @return an immutable list of the class names
   */
  List<String> priorities();

  /**
   * The caps and timeout in force now.
   *
   * <p>The default builds them from {@link #maxConcurrent()}, {@link #maxConcurrentPerKey()},
   * {@link #maxQueued()} and {@link #timeout()}; for an adaptive queue the built-in queue reports
   * the adaptive limit's ceiling as {@code maxConcurrent}.
   *
   * @return the current settings, never null
   */
  default Settings settings() {
    return new Settings(maxConcurrent(), maxConcurrentPerKey(), maxQueued(), timeout());
  }

  /**
   * Changes the caps and the default timeout while the queue runs. No permit is lost, leaked or
   * revoked by a change:
   * <ul>
   *   <li><b>Raising a cap</b> ({@code maxConcurrent} or {@code maxConcurrentPerKey}) grants the
   *       waiters it makes room for at once, before this method returns, in the usual order
   *       (priority classes strictly, keys taking turns within a class, oldest first within a
   *       key); keys that were at their cap join the end of the turn order, oldest waiter first.
   *   <li><b>Lowering a cap</b> never preempts running work: permits already held stay valid, and
   *       nothing more is admitted until the counts are below the new cap. An attempt racing
   *       the change is decided under the old caps or the new ones, and once this method has
   *       returned no attempt is admitted past a new cap.
   *   <li><b>Lowering {@code maxQueued}</b> evicts nobody: current waiters keep their place and
   *       their deadline, and new attempts are refused with {@code QUEUE_FULL} until fewer than
   *       the new bound wait. A per-key bound on waiters set on the builder stays, capped at the
   *       new {@code maxQueued}; one left at its default follows {@code maxQueued}.
   *   <li><b>A new {@code timeout}</b> applies to attempts that start waiting after the change;
   *       current waiters keep the deadline they were given.
   *   <li><b>Per-key counts.</b> Setting {@code maxConcurrentPerKey} below {@code maxConcurrent}
   *       on a queue that kept no per-key counts starts counting from the change: permits held
   *       since before the change are not charged to their key. Setting it equal to
   *       {@code maxConcurrent} stops counting (the fast path then skips per-key work).
   *   <li><b>Adaptive queues.</b> An adaptive limit owns the global cap: {@code maxConcurrent}
   *       (reported as the ceiling) cannot change and a different value throws
   *       {@link IllegalStateException}; the other settings change as above.
   * </ul>
   * The change is logged at INFO as {@code "queue '<name>' reconfigured: <old> -> <new>"}.
   *
   * <p>The default throws {@link UnsupportedOperationException}.
   *
   * @param settings the new settings
   * @return the settings in force before the change
   * @throws NullPointerException if {@code settings} is null
   * @throws IllegalStateException if the queue is adaptive and {@code maxConcurrent} differs
   *     from its ceiling
   * @throws UnsupportedOperationException if this queue cannot change at run time
   */
  default Settings reconfigure(Settings settings) {
    throw new UnsupportedOperationException("queue '" + name() + "' cannot be reconfigured");
  }

  /**
   * A queue's live caps and default timeout. Immutable and thread-safe.
   *
   * @param maxConcurrent the global cap on permits held at once, &gt;= 1
   * @param maxConcurrentPerKey the cap on permits one key holds at once, in [1, maxConcurrent]
   * @param maxQueued the bound on attempts waiting at once, &gt;= 0
   * @param timeout the default longest wait, &gt; 0
   */
  record Settings(int maxConcurrent, int maxConcurrentPerKey, int maxQueued, Duration timeout) {
    /**
     * Validates the settings.
     *
     * @param maxConcurrent the global cap, &gt;= 1
     * @param maxConcurrentPerKey the per-key cap, in [1, maxConcurrent]
     * @param maxQueued the bound on waiters, &gt;= 0
     * @param timeout the default wait, &gt; 0 and countable in nanoseconds
     * @throws IllegalArgumentException naming the field that is out of range
     */
    public Settings {
      if (maxConcurrent < 1) {
        throw new IllegalArgumentException("maxConcurrent must be >= 1 but was " + maxConcurrent);
      }
      if (maxConcurrentPerKey < 1) {
        throw new IllegalArgumentException(
            "maxConcurrentPerKey must be >= 1 but was " + maxConcurrentPerKey);
      }
      if (maxConcurrentPerKey > maxConcurrent) {
        throw new IllegalArgumentException("maxConcurrentPerKey (" + maxConcurrentPerKey
            + ") must not exceed maxConcurrent (" + maxConcurrent + ")");
      }
      if (maxQueued < 0) {
        throw new IllegalArgumentException("maxQueued must be >= 0 but was " + maxQueued);
      }
      if (timeout == null || timeout.isZero() || timeout.isNegative()) {
        throw new IllegalArgumentException("timeout must be > 0 but was " + timeout);
      }
      try {
        timeout.toNanos();
      } catch (ArithmeticException e) {
        throw new IllegalArgumentException("timeout is too long: " + timeout, e);
      }
    }

    @Override
    public String toString() {
      return "{maxConcurrent=" + maxConcurrent + ", maxConcurrentPerKey=" + maxConcurrentPerKey
          + ", maxQueued=" + maxQueued + ", timeout=" + timeout + "}";
    }
  }

  /**
   * Starts a builder.
   *
   * @return a builder with defaults: name {@code "default"}, one priority class
   *     {@code "default"}, per-key cap equal to the global cap, {@value Builder#DEFAULT_MAX_QUEUED}
   *     queued, per-key queue equal to the global queue, 60 s timeout, 1 s retry-after, the
   *     system clock and {@link TaskScheduler#timer()}
   */
  static Builder builder() {
    return new Builder();
  }

  /**
   * The right to run one piece of work; close it when the work is done. Closing again does
   * nothing. Thread-safe: any thread may close it, once or many times.
   */
  interface Permit extends AutoCloseable {
    /**
     * The priority class the permit was taken in.
     *
     * @return the class name
     */
    String priority();

    /** Releases the permit, handing it to the next eligible waiter. Idempotent. */
    @Override
    void close();
  }

  /**
   * A consistent snapshot of a queue's figures. Immutable and thread-safe.
   *
   * @param <K> the key type
   * @param active permits held now, over all keys
   * @param activeByKey permits held now, per key (only keys holding at least one); empty when the
   *     per-key cap is not below the global cap, since such a queue keeps no per-key counts
   * @param queued attempts waiting now
   * @param queuedByPriority attempts waiting now, per priority class, in priority order
   * @param admitted attempts that got a permit, since the queue was built
   * @param rejectedByReason attempts refused or given up, by reason, every reason present
   * @param cancelled attempts withdrawn by their caller (future cancelled or completed by the
   *     caller, blocking acquire interrupted)
   * @param longestWait how long the oldest current waiter has waited ({@link Duration#ZERO} if
   *     none)
   * @param bypassed whether the caps are bypassed
   * @param closed whether the queue is closed
   * @param limit the global cap now: {@code maxConcurrent}, or the adaptive limit's current value
   */
  record Stats<K>(
      int active,
      Map<K, Integer> activeByKey,
      int queued,
      Map<String, Integer> queuedByPriority,
      long admitted,
      Map<QueueRejectedException.Reason, Long> rejectedByReason,
      long cancelled,
      Duration longestWait,
      boolean bypassed,
      boolean closed,
      int limit) {

    /**
     * Copies the maps so the snapshot is immutable.
     *
     * @param active permits held now
     * @param activeByKey permits held now, per key
     * @param queued attempts waiting now
     * @param queuedByPriority attempts waiting now, per priority class
     * @param admitted attempts that got a permit
     * @param rejectedByReason attempts refused or given up, by reason (missing reasons count 0)
     * @param cancelled attempts withdrawn by their caller
     * @param longestWait the oldest current waiter's wait
     * @param bypassed whether the caps are bypassed
     * @param closed whether the queue is closed
     * @param limit the global cap now
     * @throws NullPointerException if a map or {@code longestWait} is null
     */
    public Stats {
      activeByKey = Collections.unmodifiableMap(new HashMap<>(activeByKey));
      queuedByPriority = Collections.unmodifiableMap(new LinkedHashMap<>(queuedByPriority));
      EnumMap<QueueRejectedException.Reason, Long> rejected =
          new EnumMap<>(QueueRejectedException.Reason.class);
      for (QueueRejectedException.Reason r : QueueRejectedException.Reason.values()) {
        rejected.put(r, rejectedByReason.getOrDefault(r, 0L));
      }
      rejectedByReason = Collections.unmodifiableMap(rejected);
      Objects.requireNonNull(longestWait, "longestWait");
    }

    /**
     * Attempts rejected for one reason.
     *
     * @param reason the reason
     * @return the count
     */
    public long rejected(QueueRejectedException.Reason reason) {
      return rejectedByReason.get(reason);
    }

    /**
     * Attempts rejected for any reason.
     *
     * @return the total of {@link #rejectedByReason()}
     */
    public long rejected() {
      long sum = 0;
      for (long n : rejectedByReason.values()) {
        sum += n;
      }
      return sum;
    }

    /**
     * Attempts that waited their whole timeout.
     *
     * @return the {@code TIMED_OUT} count
     */
    public long timedOut() {
      return rejected(QueueRejectedException.Reason.TIMED_OUT);
    }

    /**
     * Every attempt that has ended: admitted, rejected or cancelled.
     *
     * @return the total
     */
    public long completed() {
      return admitted + rejected() + cancelled;
    }
  }

  /**
   * Builds {@link RequestQueue}s. Each setter validates its argument at once; {@link #build()}
   * checks the combination and copies the configuration, so a builder can be reused.
   *
   * <p>Not thread-safe.
   */
  final class Builder {
    /** The default bound on waiters. */
    public static final int DEFAULT_MAX_QUEUED = 1_000;

    private String name = "default";
    private int maxConcurrent;
    private int maxConcurrentPerKey;
    private int maxQueued = DEFAULT_MAX_QUEUED;
    private int maxQueuedPerKey = -1;
    private Duration timeout = Duration.ofSeconds(60);
    private Duration retryAfter = Duration.ofSeconds(1);
    private List<String> priorities = List.of("default");
    private NanoClock clock = NanoClock.system();
    private final List<QueueListener<Object>> listeners = new ArrayList<>();
    private TaskScheduler scheduler = TaskScheduler.timer();
    private AdaptiveLimit adaptiveLimit;

    Builder() {}

    /**
     * Names the queue, as shown in messages and health reports.
     *
     * @param name a non-blank name
     * @return this builder
     * @throws IllegalArgumentException if {@code name} is null or blank
     */
    public Builder name(String name) {
      if (name == null || name.isBlank()) {
        throw new IllegalArgumentException("name must be non-blank but was "
            + (name == null ? "null" : "'" + name + "'"));
      }
      this.name = name;
      return this;
    }

    /**
     * Makes the global cap adaptive: it follows the latency of admitted work between
     * {@link AdaptiveLimit#min()} and {@link AdaptiveLimit#max()}, and lower priority classes may
     * use only their share of it. Replaces {@link #maxConcurrent(int)}; the ceiling bounds
     * {@code maxConcurrentPerKey} as {@code maxConcurrent} would. The queue's clock measures hold
     * times.
     *
     * @param adaptiveLimit the configuration; its shares, if set, name one per priority class
     * @return this builder
     * @throws NullPointerException if {@code adaptiveLimit} is null
     */
    public Builder adaptiveLimit(AdaptiveLimit adaptiveLimit) {
      this.adaptiveLimit = Objects.requireNonNull(adaptiveLimit, "adaptiveLimit");
      return this;
    }

    /**
     * Sets the global cap on permits held at once. Required, unless
     * {@link #adaptiveLimit(AdaptiveLimit)} is set.
     *
     * @param maxConcurrent the cap, &gt;= 1
     * @return this builder
     * @throws IllegalArgumentException if {@code maxConcurrent} &lt; 1
     */
    public Builder maxConcurrent(int maxConcurrent) {
      if (maxConcurrent < 1) {
        throw new IllegalArgumentException("maxConcurrent must be >= 1 but was " + maxConcurrent);
      }
      this.maxConcurrent = maxConcurrent;
      return this;
    }

    /**
     * Sets the cap on permits one key holds at once. Defaults to {@code maxConcurrent}; a cap
     * equal to {@code maxConcurrent} means no per-key cap, and the queue then keeps no per-key
     * counts ({@link Stats#activeByKey()} is empty) and admits faster.
     *
     * @param maxConcurrentPerKey the cap, &gt;= 1 and at most {@code maxConcurrent}
     * @return this builder
     * @throws IllegalArgumentException if {@code maxConcurrentPerKey} &lt; 1
     */
    public Builder maxConcurrentPerKey(int maxConcurrentPerKey) {
      if (maxConcurrentPerKey < 1) {
        throw new IllegalArgumentException(
            "maxConcurrentPerKey must be >= 1 but was " + maxConcurrentPerKey);
      }
      this.maxConcurrentPerKey = maxConcurrentPerKey;
      return this;
    }

    /**
     * Bounds the attempts waiting at once; beyond it attempts are refused with
     * {@code QUEUE_FULL}. Defaults to {@value #DEFAULT_MAX_QUEUED}. Zero means never wait.
     *
     * @param maxQueued the bound, &gt;= 0
     * @return this builder
     * @throws IllegalArgumentException if {@code maxQueued} &lt; 0
     */
    public Builder maxQueued(int maxQueued) {
      if (maxQueued < 0) {
        throw new IllegalArgumentException("maxQueued must be >= 0 but was " + maxQueued);
      }
      this.maxQueued = maxQueued;
      return this;
    }

    /**
     * Bounds the attempts one key has waiting at once. Defaults to {@code maxQueued}.
     *
     * @param maxQueuedPerKey the bound, &gt;= 0 and at most {@code maxQueued}
     * @return this builder
     * @throws IllegalArgumentException if {@code maxQueuedPerKey} &lt; 0
     */
    public Builder maxQueuedPerKey(int maxQueuedPerKey) {
      if (maxQueuedPerKey < 0) {
        throw new IllegalArgumentException(
            "maxQueuedPerKey must be >= 0 but was " + maxQueuedPerKey);
      }
      this.maxQueuedPerKey = maxQueuedPerKey;
      return this;
    }

    /**
     * Sets the default longest wait of {@code acquire} and {@code acquireAsync}. Defaults to 60 s.
     *
     * @param timeout the wait, &gt; 0
     * @return this builder
     * @throws IllegalArgumentException if {@code timeout} is null, zero, negative or too long to
     *     count in nanoseconds
     */
    public Builder timeout(Duration timeout) {
      this.timeout = positive("timeout", timeout);
      return this;
    }

    /**
     * Sets the retry-after suggested in rejections. Defaults to 1 s.
     *
     * @param retryAfter the suggested delay, &gt;= 0
     * @return this builder
     * @throws IllegalArgumentException if {@code retryAfter} is null, negative or too long to
     *     count in nanoseconds
     */
    public Builder retryAfter(Duration retryAfter) {
      if (retryAfter == null || retryAfter.isNegative()) {
        throw new IllegalArgumentException("retryAfter must be >= 0 but was " + retryAfter);
      }
      nanos("retryAfter", retryAfter);
      this.retryAfter = retryAfter;
      return this;
    }

    /**
     * Declares the priority classes, highest first, e.g. {@code "chat", "research", "export"}.
     * Defaults to one class, {@code "default"}.
     *
     * @param names the distinct, non-blank class names, at least one
     * @return this builder
     * @throws IllegalArgumentException if no name is given, or a name is null, blank or repeated
     */
    public Builder priorities(String... names) {
      if (names == null || names.length == 0) {
        throw new IllegalArgumentException("priorities must name at least one class");
      }
      List<String> list = new ArrayList<>(names.length);
      HashSet<String> seen = new HashSet<>();
      for (String n : names) {
        if (n == null || n.isBlank()) {
          throw new IllegalArgumentException("priorities must be non-blank but one was "
              + (n == null ? "null" : "'" + n + "'"));
        }
        if (!seen.add(n)) {
          throw new IllegalArgumentException("priorities must be distinct but '" + n
              + "' is repeated");
        }
        list.add(n);
      }
      this.priorities = List.copyOf(list);
      return this;
    }

    /**
     * Sets the clock used to measure waits (tests pass a fake one, with a matching scheduler).
     *
     * @param clock a monotonic clock
     * @return this builder
     * @throws NullPointerException if {@code clock} is null
     */
    public Builder clock(NanoClock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Sets the scheduler that ends waits at their deadline. Defaults to
     * {@link TaskScheduler#timer()}.
     *
     * @param scheduler the scheduler
     * @return this builder
     * @throws NullPointerException if {@code scheduler} is null
     */
    public Builder scheduler(TaskScheduler scheduler) {
      this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
      return this;
    }

    /**
     * Adds a listener to every queue this builder builds, as
     * {@link RequestQueue#addListener(QueueListener)} would. A listener typed for one key type is
     * added to a built queue with that method instead.
     *
     * @param listener the listener
     * @return this builder
     * @throws NullPointerException if {@code listener} is null
     */
    public Builder listener(QueueListener<Object> listener) {
      listeners.add(Objects.requireNonNull(listener, "listener"));
      return this;
    }

    private <K> RequestQueue<K> withListeners(RequestQueue<K> queue) {
      for (QueueListener<Object> l : listeners) {
        queue.addListener(l);
      }
      return queue;
    }

    /**
     * Builds a queue.
     *
     * @param <K> the key type
     * @return a new, open queue
     * @throws IllegalStateException if neither {@link #maxConcurrent(int)} nor
     *     {@link #adaptiveLimit(AdaptiveLimit)} was called
     * @throws IllegalArgumentException if both were called, {@code maxConcurrentPerKey} exceeds
     *     {@code maxConcurrent} (or the adaptive ceiling), {@code maxQueuedPerKey} exceeds
     *     {@code maxQueued}, or the adaptive limit's shares do not name one per priority class
     */
    public <K> RequestQueue<K> build() {
      if (adaptiveLimit != null && maxConcurrent != 0) {
        throw new IllegalArgumentException("set either maxConcurrent (" + maxConcurrent
            + ") or adaptiveLimit, not both: the adaptive limit's max is the ceiling");
      }
      if (maxConcurrent == 0 && adaptiveLimit == null) {
        throw new IllegalStateException(
            "maxConcurrent or adaptiveLimit must be set before build()");
      }
      int ceiling = adaptiveLimit == null ? maxConcurrent : adaptiveLimit.max();
      String capName = adaptiveLimit == null ? "maxConcurrent" : "adaptiveLimit max";
      int perKey = maxConcurrentPerKey == 0 ? ceiling : maxConcurrentPerKey;
      if (perKey > ceiling) {
        throw new IllegalArgumentException("maxConcurrentPerKey (" + perKey
            + ") must not exceed " + capName + " (" + ceiling + ")");
      }
      int queuedPerKey = maxQueuedPerKey < 0 ? maxQueued : maxQueuedPerKey;
      if (queuedPerKey > maxQueued) {
        throw new IllegalArgumentException("maxQueuedPerKey (" + queuedPerKey
            + ") must not exceed maxQueued (" + maxQueued + ")");
      }
      if (adaptiveLimit == null) {
        return withListeners(new DefaultRequestQueue<K>(name, maxConcurrent, perKey, maxQueued,
            queuedPerKey, timeout.toNanos(), retryAfter.toNanos(), priorities, clock, scheduler));
      }
      double[] shares = adaptiveLimit.shares(priorities.size());
      return withListeners(new DefaultRequestQueue<K>(name, ceiling, perKey, maxQueued,
          queuedPerKey, timeout.toNanos(), retryAfter.toNanos(), priorities, clock, scheduler,
          new GradientLimit(adaptiveLimit), shares, adaptiveLimit.listener()));
    }

    private static Duration positive(String what, Duration d) {
      if (d == null || d.isZero() || d.isNegative()) {
        throw new IllegalArgumentException(what + " must be > 0 but was " + d);
      }
      nanos(what, d);
      return d;
    }

    private static long nanos(String what, Duration d) {
      try {
        return d.toNanos();
      } catch (ArithmeticException e) {
        throw new IllegalArgumentException(what + " is too long: " + d, e);
      }
    }
  }
}
