package dev.sluice.servlet;

import dev.sluice.QuotaDecision;
import dev.sluice.RateLimitDecision;
import dev.sluice.RateLimitStoreException;
import dev.sluice.RateLimiter;
import dev.sluice.RequestQueue;
import dev.sluice.servlet.internal.BodyReader;
import dev.sluice.servlet.internal.BufferedBodyRequest;
import dev.sluice.servlet.internal.RuleCounters;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.ServletRequestWrapper;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;

/**
 * One request's way through a {@link SluiceFilter} rule, in this order (the order of core's
 * {@code Protection}, plus the body):
 *
 * <ol>
 *   <li>a declared body larger than the rule allows: 413, nothing charged;
 *   <li>the per-IP limit, then the per-user limit: 429;
 *   <li>the body, read into memory with non-blocking I/O under a deadline, holding no thread and
 *       no permit: 408 when too slow, 413 when too large, a client abort when the client leaves;
 *   <li>the quota (consumed, or only checked for a shadow rule): 429;
 *   <li>the queue: the request waits in async mode, holding no thread, watched for a departing
 *       client: 503 when shed;
 *   <li>the handler, on the container thread when nothing had to wait, else after an async
 *       dispatch. Its permit is released and, if it failed, its quota refunded, exactly once.
 * </ol>
 *
 * <p>The filter does these steps itself rather than through core's {@code Stage}s because each
 * step's outcome shapes the answer (RateLimit headers, fail-open, shadow counting) and the
 * waits are servlet async suspensions, not futures on a thread.
 *
 * <p><b>Remote limiters.</b> A limiter that is not {@linkplain RateLimiter#isLocal() local} is
 * asked with {@code tryAcquireAsync}. A stage already complete on return is used at once, as the
 * synchronous answer would be. Otherwise the request is suspended ({@link #STORE}: async started
 * on the original request and response, the filter's remote-store timeout as the async timeout,
 * and, when no body is left on the connection, the {@link DisconnectWatcher}) and the rest runs
 * when the stage completes, on the store's thread: the refusal or the fail-closed answer and
 * {@code complete()}, or the next limit, and once every limit allowed, an async dispatch
 * ({@link #LIMITED}) whose container thread goes on with the body, quota, queue and handler
 * exactly as after a local limiter ({@link #resume}). While suspended: the stage completing after
 * the client left, or after the timeout answered, changes nothing (the phase moved on, so
 * nothing more is charged); a client that leaves is a client abort; the async timeout answers
 * 503 {@code unavailable} and counts a store failure. A container that does not support async
 * for this request waits on the thread instead, bounded by the same timeout. Local limiters keep
 * the synchronous calls: no stage, no allocation, no suspension.
 *
 * <p><b>Outcomes.</b> Each end reports one final {@link FilterOutcome} to the filter's listeners,
 * at most once ({@link #reported}); the check costs one array-length read when none is
 * registered.
 *
 * <p>Thread-safety: each phase runs on one thread at a time; the hand-overs between the
 * container, the store's completion, the queue's completion and the body deadline go through
 * {@link #phase} and the body reader's own flag, so exactly one of them acts.
 */
final class Admission implements AsyncListener, BodyReader.Sink {
  private static final int START = 0;
  private static final int BODY = 1;
  private static final int ADMITTING = 2;
  private static final int WAITING = 3;
  private static final int DISPATCHED = 4;
  private static final int ENDED = 5;
  /** Suspended while a remote rate-limit store answers. */
  private static final int STORE = 6;
  /** Every limit allowed while suspended; dispatched to go on with the body on a container thread. */
  private static final int LIMITED = 7;

  /** The steps {@link #limits} starts from. */
  private static final int PER_IP = 0;
  private static final int PER_USER = 1;
  private static final int LIMITS_DONE = 2;

  private static final AtomicIntegerFieldUpdater<Admission> REPORTED =
      AtomicIntegerFieldUpdater.newUpdater(Admission.class, "reported");

  private final SluiceFilter filter;
  private final RouteRule rule;
  private final RuleCounters count;
  /** The request of the current dispatch: replaced on the dispatch after a remote limit. */
  private HttpServletRequest request;
  /** What the handler gets: the request, or it wrapped around its body once read. */
  private HttpServletRequest forHandler;
  private HttpServletResponse response;
  private final AtomicInteger phase = new AtomicInteger(START);
  private final AtomicBoolean settled = new AtomicBoolean();
  private final List<RateLimitDecision> decisions = new ArrayList<>(2);
  private String user;
  private String clientAddress;
  private String requestId;
  private long declaredLength;
  private int maxBody;
  private long bodyStart;
  private BodyReader reader;
  private volatile Future<?> bodyDeadline;
  private volatile AsyncContext async;
  private volatile CompletableFuture<RequestQueue.Permit> pending;
  private volatile RequestQueue.Permit permit;
  private volatile DisconnectWatcher.Watch watch = DisconnectWatcher.Watch.NONE;
  /** Whether this admission ever suspended the request (so its listener rides on later cycles). */
  private volatile boolean suspended;
  /** 1 once the final outcome was reported to the listeners. */
  private volatile int reported;

  Admission(SluiceFilter filter, RouteRule rule, RuleCounters count, HttpServletRequest request,
      HttpServletResponse response) {
    this.filter = filter;
    this.rule = rule;
    this.count = count;
    this.request = request;
    this.forHandler = request;
    this.response = response;
  }

  /** Runs the steps up to the handler, or to the first wait. On the container's thread. */
  void start(FilterChain chain) throws IOException, ServletException {
    declaredLength = request.getContentLengthLong();
    maxBody = rule.maxBodySize() >= 0 ? rule.maxBodySize() : filter.maxBodySize;
    if (declaredLength > maxBody) {
      count.bodyTooLarge.increment();
      end(FilterOutcome.BODY_TOO_LARGE);
      Refusals.bodyTooLarge(response, maxBody);
      return;
    }
    user = filter.users.resolve(request);
    limits(PER_IP, chain);
  }

  /**
   * The limits from {@code step} on, then the body and the rest. With a chain, on a container
   * thread, not suspended; without one, on a remote store's thread while suspended, where the
   * rest goes on after a dispatch.
   */
  private void limits(int step, FilterChain chain) throws IOException, ServletException {
    if (step <= PER_IP && rule.perIp() != null) {
      RateLimiter<String> perIp = rule.perIp();
      if (!perIp.isLocal()) {
        limitRemote(perIp, clientAddress(), PER_USER, chain);
        return;
      }
      if (!limit(perIp, clientAddress())) {
        answered(chain);
        return;
      }
    }
    if (step <= PER_USER && rule.perUser() != null && user != null) {
      RateLimiter<String> perUser = rule.perUser();
      if (!perUser.isLocal()) {
        limitRemote(perUser, user, LIMITS_DONE, chain);
        return;
      }
      if (!limit(perUser, user)) {
        answered(chain);
        return;
      }
    }
    if (chain == null) {
      // Suspended on a store's thread: the body and the handler need a container thread.
      unwatch();
      phase.set(LIMITED);
      dispatch();
      return;
    }
    afterLimits(chain);
  }

  /** A limit answered the request: ends the suspension, if any (no chain: suspended). */
  private void answered(FilterChain chain) {
    if (chain == null) {
      unwatch();
      finishAnswered();
    }
  }

  /**
   * Goes on after an async dispatch of this filter: with the body and the rest after remote
   * limits, else with the handler. On the container's thread.
   */
  void resume(HttpServletRequest req, HttpServletResponse res, FilterChain chain)
      throws IOException, ServletException {
    if (!phase.compareAndSet(LIMITED, START)) {
      runHandler(req, res, chain);
      return;
    }
    // The suspension for the store ends with this dispatch; a later one (body, queue) is new.
    request = req;
    forHandler = req;
    response = res;
    async = null;
    afterLimits(chain);
  }

  /** The body, then quota, queue and handler. On a container thread, not suspended. */
  private void afterLimits(FilterChain chain) throws IOException, ServletException {
    if (hasUnreadBody()) {
      byte[] arrived;
      try {
        arrived = bodyArrived();
      } catch (IOException e) {
        count.clientAborts.increment(); // nothing was charged but the limits
        end(FilterOutcome.CLIENT_ABORT);
        SluiceFilter.LOG.debug("rule '{}': client left while sending its body", rule.name(), e);
        return;
      }
      if (arrived.length < declaredLength || declaredLength < 0) {
        readBody(arrived);
        return;
      }
      BufferedBodyRequest buffered = new BufferedBodyRequest(request);
      buffered.body(arrived);
      forHandler = buffered;
    }
    admit(chain);
  }

  /**
   * Reads what of a declared-length body has already arrived, without blocking: a small body
   * usually comes in the same packet as the head, and then needs no async cycle at all.
   * {@code available() > 0} promises the next read returns without blocking (Tomcat answers 1 for
   * "some", Jetty the count).
   *
   * @return the bytes read, possibly none
   */
  private byte[] bodyArrived() throws IOException {
    if (declaredLength <= 0) {
      return new byte[0];
    }
    ServletInputStream in = request.getInputStream();
    byte[] body = null;
    int size = 0;
    int available;
    while (size < declaredLength && (available = in.available()) > 0) {
      if (body == null || size == body.length) {
        // Sized by what has arrived, not by what was announced: an announced megabyte that is
        // not there costs nothing.
        long want = Math.max(size + (long) available, Math.min(2L * size, declaredLength));
        body = Arrays.copyOf(body == null ? new byte[0] : body,
            (int) Math.min(declaredLength, Math.max(want, 8192)));
      }
      int n = in.read(body, size, body.length - size);
      if (n < 0) {
        break;
      }
      size += n;
    }
    return body == null ? new byte[0] : size == body.length ? body : Arrays.copyOf(body, size);
  }

  /**
   * A refusal before the body was read leaves the body on the connection, and the container will
   * close it rather than read it: say so, so a keep-alive client does not send its next request
   * on a connection that is about to close.
   */
  private void closeIfBodyUnread() {
    if (hasUnreadBody()) {
      response.setHeader("Connection", "close");
    }
  }

  private String clientAddress() {
    if (clientAddress == null) {
      clientAddress = filter.addresses.resolve(request);
    }
    return clientAddress;
  }

  /**
   * Whether a body is still on the connection: a positive length, or chunked. An earlier Sluice
   * filter in the chain may already have read it.
   */
  private boolean hasUnreadBody() {
    if (declaredLength <= 0 && request.getHeader("Transfer-Encoding") == null) {
      return false;
    }
    return !(request instanceof BufferedBodyRequest
        || request instanceof ServletRequestWrapper w && w.isWrapperFor(BufferedBodyRequest.class));
  }

  // ---- rate limits ----------------------------------------------------------------------------

  /** Returns false when the request was answered (refused, or a failed store failing closed). */
  private boolean limit(RateLimiter<String> limiter, String key) throws IOException {
    RateLimitDecision d;
    try {
      d = limiter.tryAcquire(key);
    } catch (RuntimeException e) {
      return limitFailed(limiter, e);
    }
    return limited(key, d);
  }

  /** A store failed: the rule's fail-open/closed choice. Returns false when answered. */
  private boolean limitFailed(RateLimiter<String> limiter, RuntimeException e) throws IOException {
    boolean open = failsOpen(e);
    if (!open) {
      closeIfBodyUnread();
      end(FilterOutcome.STORE_FAILURE_CLOSED);
    }
    return filter.storeFailed(rule, count, "rate-limit store for '" + limiter.name() + "'", e,
        open, response);
  }

  /**
   * Whether a store failure lets the request through: the rule's fail-open choice (shadow rules
   * always), except for an argument the store refuses ({@link IllegalArgumentException}, such as a
   * user key longer than the store can hold). That is no outage but this key's for good: failing
   * open would give its user no limit at all, so it fails closed whatever the rule says.
   */
  private boolean failsOpen(RuntimeException e) {
    return rule.shadow() || rule.failOpen() && !(e instanceof IllegalArgumentException);
  }

  /** A limit decided. Returns false when the request was answered (refused). */
  private boolean limited(String key, RateLimitDecision d) throws IOException {
    decisions.add(d);
    if (d.allowed()) {
      return true;
    }
    if (rule.shadow()) {
      filter.shadowRefusal(rule, count, "key " + key + " by limit '" + d.policy() + "'");
      return true;
    }
    count.rateLimited.increment();
    end(FilterOutcome.RATE_LIMITED);
    closeIfBodyUnread();
    Refusals.rateLimited(response, d);
    return false;
  }

  /**
   * Asks a remote limiter without blocking; suspends the request unless the answer is already
   * there (or the request cannot go async), then goes on from {@code next} when it comes.
   */
  private void limitRemote(RateLimiter<String> limiter, String key, int next, FilterChain chain)
      throws IOException, ServletException {
    CompletableFuture<RateLimitDecision> stage;
    try {
      CompletionStage<RateLimitDecision> s = limiter.tryAcquireAsync(key, 1);
      stage = s.toCompletableFuture();
    } catch (RuntimeException e) {
      stage = CompletableFuture.failedFuture(e);
    }
    if (!stage.isDone() && async == null && !request.isAsyncSupported()) {
      // Not async-capable here (a filter or servlet without asyncSupported): wait on this
      // thread, bounded by the same timeout as a suspension.
      try {
        stage.get(filter.remoteStoreTimeoutMillis, TimeUnit.MILLISECONDS);
      } catch (ExecutionException | TimeoutException | CancellationException e) {
        // read below
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (!stage.isDone()) {
        stage.completeExceptionally(new RateLimitStoreException("rate-limit store for '"
            + limiter.name() + "' gave no answer within " + filter.remoteStoreTimeoutMillis
            + " ms", null));
      }
    }
    if (stage.isDone()) {
      if (decide(limiter, key, stage)) {
        limits(next, chain);
      } else {
        answered(chain);
      }
      return;
    }
    if (async == null) {
      AsyncContext context = request.startAsync(request, response);
      context.setTimeout(filter.remoteStoreTimeoutMillis);
      context.addListener(this);
      async = context;
      suspended = true;
      phase.set(STORE);
      if (!hasUnreadBody()) {
        // Nothing is left on the connection but a departure (or a pipelined request).
        watch = filter.watcher.watch(request, this::abandon);
      }
    } else {
      phase.set(STORE); // the second limit, asked from the first one's completion
    }
    stage.whenComplete((d, failure) -> stored(limiter, key, next, d, failure));
  }

  /** A completed stage's decision or failure, as {@link #limit} would take it. */
  private boolean decide(RateLimiter<String> limiter, String key,
      CompletableFuture<RateLimitDecision> done) throws IOException {
    RateLimitDecision d;
    try {
      d = done.join();
    } catch (CompletionException | CancellationException e) {
      return limitFailed(limiter, storeFailure(limiter, e));
    }
    return limited(key, d);
  }

  /** A remote limiter answered while the request was suspended. On the store's thread. */
  private void stored(RateLimiter<String> limiter, String key, int next, RateLimitDecision d,
      Throwable failure) {
    if (!phase.compareAndSet(STORE, ADMITTING)) {
      return; // the client left or the wait timed out first: nothing more is charged
    }
    try {
      boolean goOn = failure == null
          ? limited(key, d) : limitFailed(limiter, storeFailure(limiter, failure));
      if (goOn) {
        limits(next, null);
      } else {
        answered(null);
      }
    } catch (IOException | ServletException | RuntimeException e) {
      SluiceFilter.LOG.debug("rule '{}': could not answer after the rate-limit store did",
          rule.name(), e);
      unwatch();
      end(ClientAborts.isClientAbort(e) ? FilterOutcome.CLIENT_ABORT : FilterOutcome.FAILED);
      finishAnswered();
    }
  }

  private static RuntimeException storeFailure(RateLimiter<String> limiter, Throwable failure) {
    Throwable cause = unwrap(failure);
    return cause instanceof RuntimeException r && !(cause instanceof CancellationException)
        ? r : new RateLimitStoreException("rate-limit store for '" + limiter.name()
            + "' failed: " + cause, cause);
  }

  /** The remote store did not answer within the filter's remote store timeout. */
  private void storeTimedOut() {
    if (!phase.compareAndSet(STORE, ENDED)) {
      return;
    }
    unwatch();
    filter.noteStoreFailure(count, "a rate-limit store gave no answer within "
        + filter.remoteStoreTimeoutMillis + " ms; rule '" + rule.name() + "' answers 503",
        new RateLimitStoreException("no answer within " + filter.remoteStoreTimeoutMillis
            + " ms", null));
    end(FilterOutcome.STORE_FAILURE_CLOSED);
    try {
      closeIfBodyUnread();
      Refusals.unavailable(response);
    } catch (IOException | RuntimeException e) {
      SluiceFilter.LOG.debug("could not send 503 to a client that left", e);
    }
    finish();
  }

  /** Stops watching the connection; a byte of a next request read meanwhile closes it after. */
  private void unwatch() {
    DisconnectWatcher.Watch w = watch;
    w.close();
    if (w.consumedInput()) {
      response.setHeader("Connection", "close");
    }
    watch = DisconnectWatcher.Watch.NONE;
  }

  // ---- body -----------------------------------------------------------------------------------

  private void readBody(byte[] arrived) throws IOException {
    BufferedBodyRequest buffered = new BufferedBodyRequest(request);
    AsyncContext context = request.startAsync(buffered, response);
    context.setTimeout(0); // the filter's body deadline and the queue's timeout end the waits
    context.addListener(this);
    async = context;
    suspended = true;
    bodyStart = filter.clock.nanoTime();
    reader = new BodyReader(request.getInputStream(), declaredLength, maxBody, arrived, this);
    count.readingBodies.increment();
    phase.set(BODY);
    scheduleBodyCheck(bodyAllowance());
    request.getInputStream().setReadListener(reader);
  }

  /** How long the body may take: the base timeout plus its size at the minimum rate. */
  private long bodyAllowance() {
    long bytes = Math.max(declaredLength, reader.received());
    return filter.bodyTimeoutNanos
        + (filter.minBodyRate > 0 ? bytes * 1_000_000_000L / filter.minBodyRate : 0);
  }

  private void scheduleBodyCheck(long delayNanos) {
    bodyDeadline = filter.timer.schedule(this::checkBody, Math.max(0, delayNanos),
        TimeUnit.NANOSECONDS);
  }

  /** The body deadline's task: a chunked body that keeps arriving earns more time. */
  private void checkBody() {
    long elapsed = filter.clock.nanoTime() - bodyStart;
    long allowed = bodyAllowance();
    if (elapsed < allowed) {
      if (phase.get() == BODY) {
        scheduleBodyCheck(allowed - elapsed);
      }
      return;
    }
    if (reader.stop()) {
      count.readingBodies.decrement();
      tooSlow();
    }
  }

  private void tooSlow() {
    phase.set(ENDED);
    count.bodyTimeouts.increment();
    end(FilterOutcome.BODY_TIMEOUT);
    try {
      Refusals.bodyTimeout(response, Math.max(1, TimeUnit.NANOSECONDS.toSeconds(
          filter.clock.nanoTime() - bodyStart)));
    } catch (IOException | RuntimeException e) {
      SluiceFilter.LOG.debug("could not send 408 to a client that left", e);
    }
    finish();
  }

  private void cancelBodyDeadline() {
    Future<?> d = bodyDeadline;
    if (d != null) {
      d.cancel(false);
    }
  }

  @Override
  public void body(byte[] body) {
    count.readingBodies.decrement();
    cancelBodyDeadline();
    ((BufferedBodyRequest) async.getRequest()).body(body);
    phase.set(ADMITTING);
    try {
      admit(null);
    } catch (IOException | ServletException | RuntimeException e) {
      SluiceFilter.LOG.warn("rule '{}': admission failed after the body arrived", rule.name(), e);
      end(FilterOutcome.FAILED);
      phase.set(ENDED);
      settle(true);
      finish();
    }
  }

  @Override
  public void tooLarge() {
    count.readingBodies.decrement();
    cancelBodyDeadline();
    phase.set(ENDED);
    count.bodyTooLarge.increment();
    end(FilterOutcome.BODY_TOO_LARGE);
    try {
      Refusals.bodyTooLarge(response, maxBody);
    } catch (IOException | RuntimeException e) {
      SluiceFilter.LOG.debug("could not send 413 to a client that left", e);
    }
    finish();
  }

  @Override
  public void failed(Throwable failure) {
    count.readingBodies.decrement();
    cancelBodyDeadline();
    if (failure instanceof TimeoutException || failure.getCause() instanceof TimeoutException) {
      tooSlow(); // the container's idle timeout ran out first
      return;
    }
    phase.set(ENDED);
    count.clientAborts.increment();
    end(FilterOutcome.CLIENT_ABORT);
    SluiceFilter.LOG.debug("rule '{}': client left while sending its body", rule.name(), failure);
    finish();
  }

  // ---- quota and queue ------------------------------------------------------------------------

  /** Quota, then queue, then the handler (directly or by dispatch), or the first wait. */
  private void admit(FilterChain chain) throws IOException, ServletException {
    if (rule.quota() != null && user != null && !quota()) {
      finishAnswered();
      return;
    }
    RequestQueue<String> queue = filter.queue;
    if (rule.queuePriority() == null || rule.shadow() || queue == null) {
      proceed(chain);
      return;
    }
    CompletableFuture<RequestQueue.Permit> p =
        queue.acquireAsync(user != null ? user : clientAddress(), rule.queuePriority());
    if (p.isDone()) {
      // A free slot or an immediate refusal: nothing to wait for.
      RequestQueue.Permit granted;
      try {
        granted = p.join();
      } catch (CompletionException | CancellationException e) {
        shed(e);
        finishAnswered();
        return;
      }
      permit = granted;
      proceed(chain);
      return;
    }
    waitFor(p);
  }

  /** Returns false when the request was answered. */
  private boolean quota() throws IOException {
    QuotaDecision q;
    try {
      if (rule.shadow()) {
        try {
          q = filter.quotaGate.check(user, rule.quota(), rule.quotaCost());
        } catch (UnsupportedOperationException e) {
          return true; // this store cannot dry-run: a shadow rule must not spend real quota
        }
      } else {
        requestId = UUID.randomUUID().toString();
        request.setAttribute(SluiceFilter.REQUEST_ID_ATTRIBUTE, requestId);
        q = filter.quotaGate.consume(user, rule.quota(), rule.quotaCost(), requestId);
      }
    } catch (RuntimeException e) {
      // Any failure, a store outage or an operator's mistake (a plan without this quota), is a
      // store failure: the rule's fail-open/closed choice answers, the cause goes to the log.
      requestId = null;
      boolean open = failsOpen(e);
      if (!open) {
        end(FilterOutcome.STORE_FAILURE_CLOSED);
      }
      return filter.storeFailed(rule, count, "quota store for '" + rule.quota() + "'", e, open,
          response);
    }
    request.setAttribute(SluiceFilter.QUOTA_ATTRIBUTE, q);
    if (q.allowed()) {
      return true;
    }
    if (rule.shadow()) {
      filter.shadowRefusal(rule, count, "user " + user + " by quota '" + q.quota() + "'");
      return true;
    }
    requestId = null; // nothing was consumed: nothing to refund
    count.quotaExceeded.increment();
    end(FilterOutcome.QUOTA_EXCEEDED);
    Refusals.quotaExceeded(response, q, Instant.now());
    return false;
  }

  private void waitFor(CompletableFuture<RequestQueue.Permit> p) throws IOException {
    pending = p;
    if (async == null) {
      try {
        AsyncContext context = request.startAsync(forHandler, response);
        context.setTimeout(0);
        context.addListener(this);
        async = context;
        suspended = true;
      } catch (RuntimeException e) {
        p.cancel(false);
        p.thenAccept(RequestQueue.Permit::close); // in case it was granted meanwhile
        settle(true);
        end(FilterOutcome.FAILED);
        throw e;
      }
    }
    phase.set(WAITING);
    // The body, if any, has been read: whatever the connection still carries is the client's
    // departure (or a pipelined request).
    watch = filter.watcher.watch(request, this::abandon);
    p.whenComplete(this::granted);
  }

  private void granted(RequestQueue.Permit granted, Throwable failure) {
    if (failure == null) {
      if (!phase.compareAndSet(WAITING, DISPATCHED)) {
        granted.close(); // the client left first: the permit goes straight to the next waiter
        return;
      }
      watch.close();
      if (watch.consumedInput()) {
        response.setHeader("Connection", "close");
      }
      permit = granted;
      dispatch();
      return;
    }
    Throwable cause = unwrap(failure);
    if (cause instanceof CancellationException || !phase.compareAndSet(WAITING, ENDED)) {
      return; // abandoned: already accounted for
    }
    watch.close();
    shed(cause);
    finish();
  }

  /** The client went away (or the container gave up on the request) while it waited. */
  private void abandon() {
    if (phase.compareAndSet(STORE, ENDED)) {
      // Waiting on a remote store: the store's answer, when it comes, is dropped.
      watch.close();
      count.clientAborts.increment();
      end(FilterOutcome.CLIENT_ABORT);
      SluiceFilter.LOG.debug("rule '{}': client left while its rate-limit store answered",
          rule.name());
      finish();
      return;
    }
    if (!phase.compareAndSet(WAITING, ENDED)) {
      return;
    }
    watch.close();
    pending.cancel(false);
    count.abandoned.increment();
    end(FilterOutcome.ABANDONED);
    settle(true);
    finish();
  }

  private void shed(Throwable failure) {
    settle(true);
    count.shed.increment();
    end(unwrap(failure) instanceof dev.sluice.QueueRejectedException q
        && q.reason() == dev.sluice.QueueRejectedException.Reason.TIMED_OUT
        ? FilterOutcome.QUEUE_TIMEOUT : FilterOutcome.QUEUE_REJECTED);
    try {
      Refusals.overloaded(response, unwrap(failure));
    } catch (IOException | RuntimeException e) {
      SluiceFilter.LOG.debug("could not send 503 to a client that left", e);
    }
  }

  // ---- the handler ----------------------------------------------------------------------------

  private void proceed(FilterChain chain) throws IOException, ServletException {
    if (async == null) {
      runHandler(forHandler, response, chain);
    } else {
      phase.set(DISPATCHED);
      dispatch();
    }
  }

  private void dispatch() {
    AsyncContext context = async;
    context.getRequest().setAttribute(filter.admissionAttribute, this);
    try {
      context.dispatch();
    } catch (IllegalStateException e) {
      // The exchange already ended (the client left, the container completed it).
      settle(true);
      end(FilterOutcome.CLIENT_ABORT);
    }
  }

  /** Runs the handler; settles when it returns, or when its own async work ends. */
  void runHandler(HttpServletRequest req, HttpServletResponse res, FilterChain chain)
      throws IOException, ServletException {
    phase.set(DISPATCHED);
    if (filter.headersOnAdmitted && !decisions.isEmpty() && !rule.shadow()) {
      res.setHeader(RateLimitHeaders.POLICY, count.policyHeader(decisions));
      res.setHeader(RateLimitHeaders.STATE, RateLimitHeaders.state(decisions));
    }
    count.admitted.increment();
    try {
      chain.doFilter(req, res);
    } catch (IOException | ServletException | RuntimeException e) {
      handlerFailed(res, e);
      return;
    }
    if (req.isAsyncStarted()) {
      // The handler went asynchronous: settle when it completes, errs or times out. After an
      // earlier suspension this listener already rides on the new cycle (onStartAsync).
      if (!suspended) {
        req.getAsyncContext().addListener(this);
      }
      return;
    }
    settle(rule.refundWhen().test(res.getStatus()));
    end(FilterOutcome.ADMITTED);
  }

  private void handlerFailed(HttpServletResponse res, Exception e) {
    if (ClientAborts.isClientAbort(e)) {
      // The client left while the handler read or wrote: not an error. Refund only when it
      // received nothing, so a user whose connection dropped is not charged for no answer.
      count.clientAborts.increment();
      SluiceFilter.LOG.debug("rule '{}': client left during the handler", rule.name(), e);
      settle(!res.isCommitted());
      end(FilterOutcome.CLIENT_ABORT);
      return;
    }
    count.failed.increment();
    end(FilterOutcome.FAILED);
    SluiceFilter.LOG.error("rule '{}': the handler failed", rule.name(), e);
    settle(true); // before the answer goes out, so a client that retries at once finds it done
    if (!res.isCommitted()) {
      try {
        Refusals.internalError(res);
      } catch (IOException | RuntimeException ignored) {
        // the client is gone too: nothing more to tell it
      }
    }
  }

  /** Releases the permit and refunds a failed request's quota; only the first call acts. */
  private void settle(boolean failed) {
    if (!settled.compareAndSet(false, true)) {
      return;
    }
    RequestQueue.Permit p = permit;
    if (p != null) {
      p.close();
    }
    if (failed && requestId != null) {
      filter.refund(rule, count, user, requestId);
    }
  }

  /** Reports the final outcome to the listeners, once; nothing at all when there are none. */
  private void end(FilterOutcome outcome) {
    if (filter.listeners.length != 0 && REPORTED.compareAndSet(this, 0, 1)) {
      filter.outcome(rule, outcome);
    }
  }

  private void finishAnswered() {
    phase.set(ENDED);
    finish();
  }

  /** Completes the async cycle, if the request is suspended. */
  private void finish() {
    AsyncContext context = async;
    if (context == null) {
      return;
    }
    try {
      context.complete();
    } catch (IllegalStateException e) {
      SluiceFilter.LOG.debug("async context already completed", e);
    }
  }

  private static Throwable unwrap(Throwable failure) {
    return failure instanceof CompletionException && failure.getCause() != null
        ? failure.getCause() : failure;
  }

  // ---- AsyncListener: the container's view of the exchange ------------------------------------

  @Override
  public void onComplete(AsyncEvent event) {
    // Safety net: however the exchange ended, the permit is released and the wait ended, once.
    switch (phase.get()) {
      case WAITING, STORE -> abandon();
      case DISPATCHED -> {
        settle(rule.refundWhen().test(response.getStatus()));
        end(FilterOutcome.ADMITTED);
      }
      case BODY -> {
        if (reader.stop()) {
          count.readingBodies.decrement();
          cancelBodyDeadline();
          count.clientAborts.increment();
          end(FilterOutcome.CLIENT_ABORT);
        }
      }
      case LIMITED -> { } // the cycle ends with the dispatch that goes on with the body
      case ENDED -> settle(true);
      default -> { // the exchange ended between two steps
        settle(true);
        end(FilterOutcome.CLIENT_ABORT);
      }
    }
  }

  @Override
  public void onTimeout(AsyncEvent event) {
    switch (phase.get()) {
      case DISPATCHED -> {
        settle(true);
        end(FilterOutcome.FAILED);
      }
      case STORE -> storeTimedOut();
      default -> onError(event);
    }
  }

  @Override
  public void onError(AsyncEvent event) {
    switch (phase.get()) {
      case BODY -> {
        if (reader.stop()) {
          failed(event.getThrowable() == null ? new IOException("client left") : event.getThrowable());
        }
      }
      case WAITING, STORE -> abandon();
      case DISPATCHED -> {
        boolean abort = ClientAborts.isClientAbort(event.getThrowable());
        if (abort) {
          count.clientAborts.increment();
        }
        settle(true);
        end(abort ? FilterOutcome.CLIENT_ABORT : FilterOutcome.FAILED);
      }
      default -> { }
    }
  }

  @Override
  public void onStartAsync(AsyncEvent event) {
    // The handler started its own async cycle after our dispatch: keep listening to it. A new
    // cycle of our own (the body or the queue after a remote limit) registers us itself.
    if (phase.get() == DISPATCHED) {
      event.getAsyncContext().addListener(this);
    }
  }
}
