package dev.sluice.servlet;

import dev.sluice.QuotaDecision;
import dev.sluice.RateLimitDecision;
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
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

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
 * <p>Thread-safety: each phase runs on one thread at a time; the hand-overs between the
 * container, the queue's completion and the body deadline go through {@link #phase} and the
 * body reader's own flag, so exactly one of them acts.
 */
final class Admission implements AsyncListener, BodyReader.Sink {
  private static final int START = 0;
  private static final int BODY = 1;
  private static final int ADMITTING = 2;
  private static final int WAITING = 3;
  private static final int DISPATCHED = 4;
  private static final int ENDED = 5;

  private final SluiceFilter filter;
  private final RouteRule rule;
  private final RuleCounters count;
  private final HttpServletRequest request;
  /** What the handler gets: the request, or it wrapped around its body once read. */
  private HttpServletRequest forHandler;
  private final HttpServletResponse response;
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
      Refusals.bodyTooLarge(response, maxBody);
      return;
    }
    user = filter.users.resolve(request);
    if (rule.perIp() != null && !limit(rule.perIp(), clientAddress())) {
      return;
    }
    if (rule.perUser() != null && user != null && !limit(rule.perUser(), user)) {
      return;
    }
    if (hasUnreadBody()) {
      byte[] arrived;
      try {
        arrived = bodyArrived();
      } catch (IOException e) {
        count.clientAborts.increment(); // nothing was charged but the limits
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
      if (!rule.failOpen() && !rule.shadow()) {
        closeIfBodyUnread();
      }
      return filter.storeFailed(rule, count, "rate-limit store for '" + limiter.name() + "'", e,
          response);
    }
    decisions.add(d);
    if (d.allowed()) {
      return true;
    }
    if (rule.shadow()) {
      filter.shadowRefusal(rule, count, "key " + key + " by limit '" + d.policy() + "'");
      return true;
    }
    count.rateLimited.increment();
    closeIfBodyUnread();
    Refusals.rateLimited(response, d);
    return false;
  }

  // ---- body -----------------------------------------------------------------------------------

  private void readBody(byte[] arrived) throws IOException {
    BufferedBodyRequest buffered = new BufferedBodyRequest(request);
    AsyncContext context = request.startAsync(buffered, response);
    context.setTimeout(0); // the filter's body deadline and the queue's timeout end the waits
    context.addListener(this);
    async = context;
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
      return filter.storeFailed(rule, count, "quota store for '" + rule.quota() + "'", e,
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
      } catch (RuntimeException e) {
        p.cancel(false);
        p.thenAccept(RequestQueue.Permit::close); // in case it was granted meanwhile
        settle(true);
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
    if (!phase.compareAndSet(WAITING, ENDED)) {
      return;
    }
    watch.close();
    pending.cancel(false);
    count.abandoned.increment();
    settle(true);
    finish();
  }

  private void shed(Throwable failure) {
    settle(true);
    count.shed.increment();
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
      settle(true);
    }
  }

  /** Runs the handler; settles when it returns, or when its own async work ends. */
  void runHandler(HttpServletRequest req, HttpServletResponse res, FilterChain chain)
      throws IOException, ServletException {
    phase.set(DISPATCHED);
    if (filter.headersOnAdmitted && !decisions.isEmpty() && !rule.shadow()) {
      res.setHeader(RateLimitHeaders.POLICY, count.policyHeader(decisions, rule));
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
      // The handler went asynchronous: settle when it completes, errs or times out.
      if (async == null) {
        req.getAsyncContext().addListener(this);
      }
      return;
    }
    settle(rule.refundWhen().test(res.getStatus()));
  }

  private void handlerFailed(HttpServletResponse res, Exception e) {
    if (ClientAborts.isClientAbort(e)) {
      // The client left while the handler read or wrote: not an error. Refund only when it
      // received nothing, so a user whose connection dropped is not charged for no answer.
      count.clientAborts.increment();
      SluiceFilter.LOG.debug("rule '{}': client left during the handler", rule.name(), e);
      settle(!res.isCommitted());
      return;
    }
    count.failed.increment();
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
      case WAITING -> abandon();
      case DISPATCHED -> settle(rule.refundWhen().test(response.getStatus()));
      case BODY -> {
        if (reader.stop()) {
          count.readingBodies.decrement();
          cancelBodyDeadline();
          count.clientAborts.increment();
        }
      }
      default -> settle(true);
    }
  }

  @Override
  public void onTimeout(AsyncEvent event) {
    if (phase.get() == DISPATCHED) {
      settle(true);
    } else {
      onError(event);
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
      case WAITING -> abandon();
      case DISPATCHED -> {
        if (ClientAborts.isClientAbort(event.getThrowable())) {
          count.clientAborts.increment();
        }
        settle(true);
      }
      default -> { }
    }
  }

  @Override
  public void onStartAsync(AsyncEvent event) {
    // The handler started its own async cycle after our dispatch: keep listening to it.
    event.getAsyncContext().addListener(this);
  }
}
