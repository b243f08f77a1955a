package dev.sluice.contract;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.sluice.NanoClock;
import dev.sluice.RateLimitDecision;
import dev.sluice.RateLimitStore;
import dev.sluice.RateLimitStoreException;
import dev.sluice.RateLimiter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The contract kit for {@link RateLimitStore}s: extend it once per store, as Sluice does for the
 * in-memory, PostgreSQL and Redis stores, and JUnit 5 runs every test below against yours.
 *
 * <p>It checks that the store decides exactly as a reference GCRA (the pseudo-code on
 * {@link RateLimitStore}, literally) over random sequences on injected clocks and on the store's
 * own clock, reads its clock once per step (on a clock that moves on every read), allows exactly
 * the burst when many threads race for one key, shares one limit between two instances (two
 * connections, as two application processes would hold), answers in both the synchronous and the
 * asynchronous form, and turns an unreachable backend into {@link RateLimitStoreException}.
 *
 * <p>Depend on {@code dev.sluice:sluice-core} with {@code <type>test-jar</type>} in test scope,
 * plus JUnit 5 and AssertJ. The kit lives in a package of its own so that a modular store's tests,
 * compiled into the store's module, can read it from the class path.
 *
 * <pre>{@code
 * class MyStoreContractTest extends RateLimitStoreContract {
 *   protected Instance openInstance() {
 *     MyClient client = MyClient.connect(url);
 *     return new Instance() {
 *       public RateLimitStore<String> store(String namespace, NanoClock clock) {
 *         return MyStore.builder(client, namespace).clock(clock).build();
 *       }
 *       public void close() {
 *         client.close();
 *       }
 *     };
 *   }
 * }
 * }</pre>
 */
public abstract class RateLimitStoreContract {
  private static final int RACERS = 32;

  private final List<Instance> opened = new ArrayList<>();

  /** For subclasses. */
  protected RateLimitStoreContract() {}

  /**
   * One application instance's connection to the store's backend (its own pool or client).
   * Stores made by different instances for the same namespace must share their state, as they
   * would in two processes.
   */
  public interface Instance {

    /**
     * Makes a store for a namespace.
     *
     * @param namespace a namespace no other test uses (letters, digits and underscores)
     * @param clock the time source to read once per step, or null for the store's own clock
     * @return the store
     */
    RateLimitStore<String> store(String namespace, NanoClock clock);

    /**
     * Closes the instance's connection, pool or client.
     *
     * @throws Exception if closing fails
     */
    void close() throws Exception;
  }

  /**
   * Opens a new instance: a new connection, pool or client to the backend. The kit closes it
   * after the test.
   *
   * @return the instance
   * @throws Exception if the backend cannot be reached
   */
  protected abstract Instance openInstance() throws Exception;

  /**
   * A store whose backend cannot answer (closed connection, no server at the address), for the
   * failure tests. The default, null, skips them: a store in process memory cannot fail.
   *
   * @return a failing store, or null
   * @throws Exception if it cannot be made
   */
  protected RateLimitStore<String> unreachableStore() throws Exception {
    return null;
  }

  /**
   * A namespace no other test, run or process uses.
   *
   * @param prefix a readable prefix
   * @return the namespace
   */
  protected static String namespace(String prefix) {
    return prefix + "_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
  }

  private Instance instance() throws Exception {
    Instance instance = openInstance();
    opened.add(instance);
    return instance;
  }

  @AfterEach
  void closeInstances() throws Exception {
    for (Instance instance : opened) {
      instance.close();
    }
    opened.clear();
  }

  @Test
  void acquire_randomSequencesOnAnInjectedClock_decideExactlyAsTheReferenceGcra() throws Exception {
    Instance instance = instance();
    assertSameAsReference(instance, 5, Duration.ofMinutes(1), 5, 1L);
    assertSameAsReference(instance, 7, Duration.ofSeconds(1), 3, -4_000_000_000L);
    assertSameAsReference(instance, 3, Duration.ofMillis(10), 1, Long.MAX_VALUE / 4);
    assertSameAsReference(instance, 5, Duration.ofMinutes(1), 7, -7_000_000_000_123L);
    assertSameAsReference(instance, 3, Duration.ofSeconds(1), 3, 1_700_000_000_123_456_789L);
  }

  private static void assertSameAsReference(
      Instance instance, int limit, Duration period, int burst, long origin) throws Exception {
    AtomicLong now = new AtomicLong(origin);
    RateLimiter.Builder builder =
        RateLimiter.builder().name("contract").limit(limit, period).burst(burst);
    ReferenceGcra referenceStore = new ReferenceGcra(now::get);
    RateLimitStore<String> testedStore = instance.store(namespace("seq"), now::get);
    RateLimiter<String> reference = builder.build(referenceStore);
    RateLimiter<String> tested = builder.build(testedStore);
    SplittableRandom random = new SplittableRandom(limit * 31L + burst);
    long interval = reference.emissionInterval().toNanos();
    long tolerance = burst * interval;
    String[] keys = {"alice", "bob", "10.0.0.1", "2001:db8::/64", "\u00fc{c\u00f8d\u00e9}"};

    for (int step = 0; step < 400; step++) {
      now.addAndGet((long) (random.nextDouble() * 1.5 * interval));
      String key = keys[random.nextInt(keys.length)];
      int cost = 1 + random.nextInt(burst);
      String as = "limit " + limit + "/" + period + " burst " + burst + " step " + step + " key "
          + key + " cost " + cost;
      switch (step % 3) {
        case 0 -> assertThat(tested.tryAcquire(key, cost)).as(as)
            .isEqualTo(reference.tryAcquire(key, cost));
        case 1 -> assertThat(tested.tryAcquireAsync(key, cost).toCompletableFuture()
            .get(5, SECONDS)).as(as).isEqualTo(reference.tryAcquire(key, cost));
        default -> assertThat(testedStore.acquire(key, cost * interval, tolerance)).as(as)
            .isEqualTo(referenceStore.acquire(key, cost * interval, tolerance));
      }
    }
  }

  /**
   * On clocks that move on every read, the store and the reference see the same times only if
   * the store reads its clock once per step; fresh keys and whole-burst costs are frequent, as
   * that is where a second read (to create a key's state) changes the decision.
   */
  @Test
  void acquire_onAClockThatTicksOnEveryRead_readsItOncePerStepAndDecidesAsTheReference()
      throws Exception {
    TickingClock storeClock = new TickingClock();
    TickingClock referenceClock = new TickingClock();
    RateLimiter.Builder builder =
        RateLimiter.builder().name("tick").limit(5, Duration.ofMinutes(1)).burst(7);
    RateLimiter<String> store = builder.build(instance().store(namespace("tick"), storeClock));
    RateLimiter<String> reference = builder.build(new ReferenceGcra(referenceClock));
    referenceClock.advanceNanos(storeClock.peek() - referenceClock.peek());
    long readsAtStart = storeClock.reads();
    SplittableRandom random = new SplittableRandom(7);
    int allowed = 0;
    int steps = 1_000;

    for (int i = 0; i < steps; i++) {
      long dt = random.nextInt(3) == 0 ? random.nextLong(Duration.ofSeconds(3).toNanos()) : 0;
      storeClock.advanceNanos(dt);
      referenceClock.advanceNanos(dt);
      String key = "user-" + random.nextInt(100);
      int cost = random.nextBoolean() ? 7 : 1 + random.nextInt(7);
      RateLimitDecision expected = reference.tryAcquire(key, cost);
      assertThat(store.tryAcquire(key, cost)).as("call %d key %s cost %d", i, key, cost)
          .isEqualTo(expected);
      allowed += expected.allowed() ? 1 : 0;
    }
    assertThat(storeClock.reads() - readsAtStart).isEqualTo(steps);
    assertThat(allowed).isBetween(steps / 10, steps * 9 / 10);
  }

  @Test
  void acquire_freshKeysCostingTheWholeBurstOnTheStoresOwnClock_areAllowedOnceEach()
      throws Exception {
    RateLimiter<String> five = RateLimiter.builder().name("fresh").limit(5, Duration.ofHours(1))
        .build(instance().store(namespace("fresh"), null));

    for (int i = 0; i < 20; i++) {
      String key = "fresh-" + i;
      RateLimitDecision first = five.tryAcquire(key, 5);
      assertThat(first.allowed()).as(key).isTrue();
      assertThat(first.remaining()).as(key).isZero();
      assertThat(five.tryAcquire(key, 1).allowed()).as(key).isFalse();
    }
  }

  @Test
  void acquire_onTheStoresOwnClock_storesNowPlusIncrementAndKeepsTheTatWhenRefused()
      throws Exception {
    RateLimitStore<String> store = instance().store(namespace("own"), null);
    long hour = Duration.ofHours(1).toNanos();

    RateLimitStore.Outcome first = store.acquire("k", hour, 2 * hour);
    RateLimitStore.Outcome second = store.acquire("k", hour, 2 * hour);
    RateLimitStore.Outcome refused = store.acquire("k", hour, 2 * hour);

    assertThat(first.allowed()).isTrue();
    assertThat(first.tatNanos()).isEqualTo(first.nowNanos() + hour);
    assertThat(second.allowed()).isTrue();
    assertThat(second.tatNanos()).isEqualTo(first.tatNanos() + hour);
    assertThat(refused.allowed()).isFalse();
    assertThat(refused.tatNanos()).isEqualTo(second.tatNanos());
    assertThat(refused.nowNanos() - first.nowNanos()).isBetween(0L, hour);
  }

  @Test
  void acquire_32CallersRaceForALimitOf5_allowExactly5() throws Exception {
    RateLimiter<String> limiter = RateLimiter.builder().name("race").limit(5, Duration.ofHours(1))
        .build(instance().store(namespace("race"), null));

    assertThat(race(List.of(limiter), RACERS)).isEqualTo(5);
  }

  @Test
  void acquire_twoInstancesRaceForALimitOf5_allowExactly5AcrossBoth() throws Exception {
    String namespace = namespace("two");
    RateLimiter.Builder builder = RateLimiter.builder().name("two").limit(5, Duration.ofHours(1));
    RateLimiter<String> a = builder.build(instance().store(namespace, null));
    RateLimiter<String> b = builder.build(instance().store(namespace, null));

    assertThat(race(List.of(a, b), RACERS)).isEqualTo(5);
  }

  /** Callers on a barrier, spread over the limiters and over both forms; returns the allowed. */
  private static int race(List<RateLimiter<String>> limiters, int callers) throws Exception {
    ExecutorService threads = Executors.newFixedThreadPool(callers);
    try {
      CyclicBarrier start = new CyclicBarrier(callers);
      List<Future<Boolean>> futures = new ArrayList<>();
      for (int i = 0; i < callers; i++) {
        RateLimiter<String> limiter = limiters.get(i % limiters.size());
        boolean async = (i / limiters.size()) % 2 == 1;
        futures.add(threads.submit(() -> {
          start.await(30, SECONDS);
          return async
              ? limiter.tryAcquireAsync("hot").toCompletableFuture().get(30, SECONDS).allowed()
              : limiter.tryAcquirePermit("hot");
        }));
      }
      int allowed = 0;
      for (Future<Boolean> f : futures) {
        allowed += f.get(60, SECONDS) ? 1 : 0;
      }
      return allowed;
    } finally {
      threads.shutdownNow();
    }
  }

  @Test
  void acquire_twoInstancesOverRandomTrafficOnAnInjectedClock_bothDecideAsTheReference()
      throws Exception {
    String namespace = namespace("pair");
    AtomicLong now = new AtomicLong(-3_000_000_000_000L);
    RateLimiter.Builder builder =
        RateLimiter.builder().name("pair").limit(5, Duration.ofMinutes(1)).burst(5);
    List<RateLimiter<String>> instances = List.of(
        builder.build(instance().store(namespace, now::get)),
        builder.build(instance().store(namespace, now::get)));
    RateLimiter<String> reference = builder.build(new ReferenceGcra(now::get));
    SplittableRandom random = new SplittableRandom(11);
    int[] allowedBy = new int[2];

    for (int step = 0; step < 600; step++) {
      now.addAndGet(random.nextLong(Duration.ofSeconds(10).toNanos()));
      String key = "ip-" + random.nextInt(4);
      int which = random.nextInt(2);
      RateLimitDecision expected = reference.tryAcquire(key);
      assertThat(instances.get(which).tryAcquire(key))
          .as("step %d on instance %d, key %s", step, which, key).isEqualTo(expected);
      allowedBy[which] += expected.allowed() ? 1 : 0;
    }
    assertThat(allowedBy[0]).isPositive();
    assertThat(allowedBy[1]).isPositive();
  }

  /**
   * On the store's own clock the times are not known in advance, but each outcome reports the
   * time it used: the reference, fed those times, must take every decision the store took, on
   * both instances, which also shows that both instances read one clock.
   */
  @Test
  void acquire_twoInstancesOverRandomTrafficOnTheStoresOwnClock_bothDecideAsTheReference()
      throws Exception {
    String namespace = namespace("own_pair");
    List<RateLimitStore<String>> instances = List.of(
        instance().store(namespace, null), instance().store(namespace, null));
    AtomicLong storeTime = new AtomicLong();
    ReferenceGcra reference = new ReferenceGcra(storeTime::get);
    long interval = Duration.ofMillis(2).toNanos();
    SplittableRandom random = new SplittableRandom(13);
    int allowed = 0;
    int steps = 300;

    for (int step = 0; step < steps; step++) {
      String key = "ip-" + random.nextInt(3);
      int which = random.nextInt(2);
      long increment = (1 + random.nextInt(3)) * interval;
      RateLimitStore.Outcome actual = instances.get(which).acquire(key, increment, 3 * interval);
      storeTime.set(actual.nowNanos());
      assertThat(actual).as("step %d on instance %d, key %s", step, which, key)
          .isEqualTo(reference.acquire(key, increment, 3 * interval));
      allowed += actual.allowed() ? 1 : 0;
    }
    assertThat(allowed).isPositive();
  }

  @Test
  void acquireAsync_givesTheSameOutcomeAsAcquire() throws Exception {
    AtomicLong now = new AtomicLong(42);
    Instance instance = instance();
    RateLimitStore<String> sync = instance.store(namespace("form_s"), now::get);
    RateLimitStore<String> async = instance.store(namespace("form_a"), now::get);

    for (int i = 0; i < 4; i++) {
      CompletionStage<RateLimitStore.Outcome> stage = async.acquireAsync("k", 100, 250);
      assertThat(stage.toCompletableFuture().get(5, SECONDS)).as("call %d", i)
          .isEqualTo(sync.acquire("k", 100, 250));
    }
  }

  @Test
  void acquire_nullKey_throwsNullPointerExceptionInBothForms() throws Exception {
    RateLimitStore<String> store = instance().store(namespace("null"), null);

    assertThatThrownBy(() -> store.acquire(null, 1, 1)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> store.acquireAsync(null, 1, 1))
        .isInstanceOf(NullPointerException.class);
  }

  @Test
  void acquire_whenTheBackendCannotAnswer_throwsRateLimitStoreException() throws Exception {
    RateLimitStore<String> store = requireUnreachableStore();

    assertThatThrownBy(() -> store.acquire("k", 1_000, 5_000))
        .isInstanceOf(RateLimitStoreException.class);
  }

  @Test
  void acquireAsync_whenTheBackendCannotAnswer_completesExceptionallyWithoutThrowing()
      throws Exception {
    RateLimitStore<String> store = requireUnreachableStore();

    CompletionStage<RateLimitStore.Outcome> stage = store.acquireAsync("k", 1_000, 5_000);

    Throwable failure = catchThrowable(() -> stage.toCompletableFuture().get(30, SECONDS));
    assertThat(failure).isInstanceOf(ExecutionException.class)
        .cause().isInstanceOf(RateLimitStoreException.class);
  }

  @Test
  void tryAcquireAsync_whenTheBackendCannotAnswer_failsWithTheStoreExceptionUnwrapped()
      throws Exception {
    RateLimiter<String> limiter = RateLimiter.builder().name("down")
        .limit(5, Duration.ofMinutes(1)).build(requireUnreachableStore());

    CompletionStage<RateLimitDecision> stage = limiter.tryAcquireAsync("k");
    Throwable[] seen = new Throwable[1];
    stage.handle((d, failure) -> seen[0] = failure).toCompletableFuture().get(30, SECONDS);

    assertThat(seen[0]).isInstanceOf(RateLimitStoreException.class);
    assertThatThrownBy(() -> limiter.tryAcquire("k")).isInstanceOf(RateLimitStoreException.class);
  }

  private RateLimitStore<String> requireUnreachableStore() throws Exception {
    RateLimitStore<String> store = unreachableStore();
    if (store == null) {
      // Said on the console too: surefire keeps an assumption's message in its reports only.
      System.out.println("SKIPPED: " + getClass().getSimpleName()
          + " has no failing backend (a store in memory cannot fail)");
    }
    Assumptions.assumeTrue(store != null,
        "SKIPPED: " + getClass().getSimpleName() + " has no failing backend (a store in memory)");
    return store;
  }

  /**
   * A clock that moves on every read, as a real one does: a store that reads it twice within one
   * step sees two times, which a clock moved only by hand hides. Starts at a negative origin.
   */
  private static final class TickingClock implements NanoClock {
    private final AtomicLong next = new AtomicLong(-7_000_000_000_000L);
    private final AtomicLong reads = new AtomicLong();

    @Override
    public long nanoTime() {
      reads.incrementAndGet();
      return next.getAndIncrement();
    }

    long peek() {
      return next.get();
    }

    long reads() {
      return reads.get();
    }

    void advanceNanos(long nanos) {
      next.addAndGet(nanos);
    }
  }

  /**
   * The {@link RateLimitStore} contract's pseudo-code, literally, under one lock: the reference
   * every store must match. Public so a store's own tests can compare against it too.
   */
  public static final class ReferenceGcra implements RateLimitStore<String> {
    private final Map<String, Long> tats = new HashMap<>();
    private final NanoClock clock;

    /**
     * A reference on a clock.
     *
     * @param clock read once per step
     */
    public ReferenceGcra(NanoClock clock) {
      this.clock = clock;
    }

    @Override
    public synchronized Outcome acquire(String key, long increment, long tolerance) {
      long now = clock.nanoTime();
      long stored = tats.getOrDefault(key, now);
      long tat = stored - now > 0 ? stored : now;
      long newTat = tat + increment;
      if (newTat - now <= tolerance) {
        tats.put(key, newTat);
        return new Outcome(true, newTat, now);
      }
      return new Outcome(false, tat, now);
    }
  }
}
