package dev.sluice.spring;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.validation.Errors;
import org.springframework.validation.Validator;

/**
 * The {@code sluice.*} properties: route rules, the request queue, the rate-limit store and the
 * filter's settings. Bound once at start-up and checked by {@link #validate(Object, Errors)}
 * (these properties validate themselves, so no Bean Validation provider is needed); a bad value
 * fails start-up with an error naming the property, such as
 * {@code sluice.rules[0].per-ip.limit}. Unknown keys under {@code sluice} fail too, so a typo in a
 * name cannot silently turn a protection off.
 *
 * <pre>
 * sluice:
 *   queue:
 *     max-concurrent: 20
 *     max-concurrent-per-key: 2
 *     priorities: [chat, export]
 *   rules:
 *     - name: chat
 *       paths: [/api/chat]
 *       methods: [POST]
 *       per-ip: { limit: 5, period: 1m }
 *       queue-priority: chat
 * </pre>
 *
 * <p>Not thread-safe: Spring binds it once, before the beans that read it are built.
 */
@ConfigurationProperties(prefix = "sluice", ignoreUnknownFields = false)
public class SluiceProperties implements Validator {

  /** Where rate-limit state is kept. */
  public enum StoreType {
    /** In this process (the default): per instance, no I/O. */
    MEMORY,
    /** PostgreSQL, through the application's {@code DataSource} ({@code sluice-jdbc-quota}). */
    POSTGRES,
    /** Redis, through Lettuce ({@code sluice-redis}). */
    REDIS
  }

  /** Which forwarding header trusted proxies report the client in. */
  public enum ForwardedHeaderType {
    /** {@code X-Forwarded-For} (the default). */
    X_FORWARDED_FOR,
    /** RFC 7239 {@code Forwarded}. */
    FORWARDED
  }

  private boolean enabled = true;
  private List<Rule> rules = new ArrayList<>();
  private Queue queue = new Queue();
  private Store store = new Store();
  private Filter filter = new Filter();
  private Health health = new Health();

  /** Creates properties with the defaults. */
  public SluiceProperties() {}

  /**
   * Whether Sluice is configured at all ({@code sluice.enabled}, default true).
   *
   * @return the switch
   */
  public boolean isEnabled() {
    return enabled;
  }

  /**
   * Sets {@code sluice.enabled}.
   *
   * @param enabled the switch
   */
  public void setEnabled(boolean enabled) {
    this.enabled = enabled;
  }

  /**
   * The route rules ({@code sluice.rules}), in matching order: the first that matches applies.
   *
   * @return the rules
   */
  public List<Rule> getRules() {
    return rules;
  }

  /**
   * Sets {@code sluice.rules}.
   *
   * @param rules the rules
   */
  public void setRules(List<Rule> rules) {
    this.rules = rules;
  }

  /**
   * The request queue ({@code sluice.queue}).
   *
   * @return the queue settings
   */
  public Queue getQueue() {
    return queue;
  }

  /**
   * Sets {@code sluice.queue}.
   *
   * @param queue the queue settings
   */
  public void setQueue(Queue queue) {
    this.queue = queue;
  }

  /**
   * The rate-limit store ({@code sluice.store}).
   *
   * @return the store settings
   */
  public Store getStore() {
    return store;
  }

  /**
   * Sets {@code sluice.store}.
   *
   * @param store the store settings
   */
  public void setStore(Store store) {
    this.store = store;
  }

  /**
   * The filter's own settings ({@code sluice.filter}).
   *
   * @return the filter settings
   */
  public Filter getFilter() {
    return filter;
  }

  /**
   * Sets {@code sluice.filter}.
   *
   * @param filter the filter settings
   */
  public void setFilter(Filter filter) {
    this.filter = filter;
  }

  /**
   * The health indicator's settings ({@code sluice.health}).
   *
   * @return the health settings
   */
  public Health getHealth() {
    return health;
  }

  /**
   * Sets {@code sluice.health}.
   *
   * @param health the health settings
   */
  public void setHealth(Health health) {
    this.health = health;
  }

  /**
   * The queue priority classes in force: {@code sluice.queue.priorities}, or, when that is empty,
   * the rules' distinct {@code queue-priority} values in rule order.
   *
   * @return the classes, highest first; empty when nothing queues
   */
  public List<String> effectivePriorities() {
    if (!queue.getPriorities().isEmpty()) {
      return List.copyOf(queue.getPriorities());
    }
    List<String> found = new ArrayList<>();
    for (Rule r : rules) {
      if (r.getQueuePriority() != null && !found.contains(r.getQueuePriority())) {
        found.add(r.getQueuePriority());
      }
    }
    return found;
  }

  /**
   * Whether a queue is configured: {@code sluice.queue.max-concurrent} is set.
   *
   * @return true when the filter gets a queue
   */
  public boolean hasQueue() {
    return queue.getMaxConcurrent() != null;
  }

  @Override
  public boolean supports(Class<?> type) {
    return SluiceProperties.class.isAssignableFrom(type);
  }

  /**
   * Checks every setting, rejecting each bad one under its property path relative to
   * {@code sluice} (Spring prefixes it), with a message saying what was expected.
   *
   * @param target these properties
   * @param errors where rejections go
   */
  @Override
  public void validate(Object target, Errors errors) {
    SluiceProperties p = (SluiceProperties) target;
    Set<String> names = new HashSet<>();
    for (int i = 0; i < p.rules.size(); i++) {
      Rule r = p.rules.get(i);
      String at = "rules[" + i + "].";
      if (r == null) {
        errors.reject("sluice.rule", "sluice.rules[" + i + "] is empty");
        continue;
      }
      if (blank(r.getName())) {
        errors.rejectValue(at + "name", "sluice.required", "every rule needs a name");
      } else if (!names.add(r.getName())) {
        errors.rejectValue(at + "name", "sluice.duplicate",
            "rule name '" + r.getName() + "' is used twice");
      }
      if (r.getPaths().isEmpty()) {
        errors.rejectValue(at + "paths", "sluice.required",
            "a rule needs at least one path, such as /api/chat or /api/*");
      }
      for (int j = 0; j < r.getPaths().size(); j++) {
        String path = r.getPaths().get(j);
        String problem = pathProblem(path);
        if (problem != null) {
          errors.rejectValue(at + "paths[" + j + "]", "sluice.path", problem);
        }
      }
      for (int j = 0; j < r.getMethods().size(); j++) {
        String m = r.getMethods().get(j);
        if (blank(m) || !m.trim().chars().allMatch(Character::isLetter)) {
          errors.rejectValue(at + "methods[" + j + "]", "sluice.method",
              "an HTTP method name such as GET or POST was expected but was '" + m + "'");
        }
      }
      checkLimit(r.getPerIp(), at + "perIp.", errors);
      checkLimit(r.getPerUser(), at + "perUser.", errors);
      if (r.getQueuePriority() != null) {
        if (blank(r.getQueuePriority())) {
          errors.rejectValue(at + "queuePriority", "sluice.blank", "must not be blank");
        } else if (!p.hasQueue()) {
          errors.rejectValue(at + "queuePriority", "sluice.queue",
              "rule queues in class '" + r.getQueuePriority()
                  + "' but no queue is configured: set sluice.queue.max-concurrent");
        } else if (!p.effectivePriorities().contains(r.getQueuePriority())) {
          errors.rejectValue(at + "queuePriority", "sluice.queue",
              "class '" + r.getQueuePriority() + "' is not one of sluice.queue.priorities "
                  + p.effectivePriorities());
        }
      }
      if (r.getQuota() != null && blank(r.getQuota())) {
        errors.rejectValue(at + "quota", "sluice.blank", "must not be blank");
      }
      if (r.getQuotaCost() < 1) {
        errors.rejectValue(at + "quotaCost", "sluice.range",
            "must be >= 1 but was " + r.getQuotaCost());
      }
      if (r.getMaxBodySize() != null && r.getMaxBodySize() < 0) {
        errors.rejectValue(at + "maxBodySize", "sluice.range",
            "must be >= 0 bytes but was " + r.getMaxBodySize());
      }
    }
    Queue q = p.queue;
    if (q.getMaxConcurrent() != null && q.getMaxConcurrent() < 1) {
      errors.rejectValue("queue.maxConcurrent", "sluice.range",
          "must be >= 1 but was " + q.getMaxConcurrent());
    }
    if (q.getMaxConcurrentPerKey() != null) {
      if (q.getMaxConcurrentPerKey() < 1) {
        errors.rejectValue("queue.maxConcurrentPerKey", "sluice.range",
            "must be >= 1 but was " + q.getMaxConcurrentPerKey());
      } else if (q.getMaxConcurrent() != null
          && q.getMaxConcurrentPerKey() > q.getMaxConcurrent()) {
        errors.rejectValue("queue.maxConcurrentPerKey", "sluice.range",
            "must not exceed sluice.queue.max-concurrent (" + q.getMaxConcurrent() + ") but was "
                + q.getMaxConcurrentPerKey());
      }
    }
    if (q.getMaxQueued() < 0) {
      errors.rejectValue("queue.maxQueued", "sluice.range",
          "must be >= 0 but was " + q.getMaxQueued());
    }
    if (q.getMaxQueuedPerKey() != null
        && (q.getMaxQueuedPerKey() < 0 || q.getMaxQueuedPerKey() > q.getMaxQueued())) {
      errors.rejectValue("queue.maxQueuedPerKey", "sluice.range",
          "must be in [0, sluice.queue.max-queued=" + q.getMaxQueued() + "] but was "
              + q.getMaxQueuedPerKey());
    }
    positive(q.getTimeout(), "queue.timeout", errors);
    if (q.getRetryAfter() == null || q.getRetryAfter().isNegative()) {
      errors.rejectValue("queue.retryAfter", "sluice.range",
          "must be >= 0 but was " + q.getRetryAfter());
    }
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < q.getPriorities().size(); i++) {
      String c = q.getPriorities().get(i);
      if (blank(c) || !seen.add(c)) {
        errors.rejectValue("queue.priorities[" + i + "]", "sluice.priority",
            "priority classes must be distinct and non-blank but was '" + c + "'");
      }
    }
    if (blank(q.getName())) {
      errors.rejectValue("queue.name", "sluice.blank", "must not be blank");
    }
    Store s = p.store;
    if (s.getType() == null) {
      errors.rejectValue("store.type", "sluice.required",
          "one of memory, postgres, redis was expected");
    }
    if (s.getMaxKeys() < 1 || s.getMaxKeys() > (1L << 30)) {
      errors.rejectValue("store.maxKeys", "sluice.range",
          "must be in [1, 2^30] but was " + s.getMaxKeys());
    }
    positive(s.getRedis().getCommandTimeout(), "store.redis.commandTimeout", errors);
    if (blank(s.getRedis().getPrefix())) {
      errors.rejectValue("store.redis.prefix", "sluice.blank", "must not be blank");
    }
    Filter f = p.filter;
    if (f.getMaxBodySize() < 0) {
      errors.rejectValue("filter.maxBodySize", "sluice.range",
          "must be >= 0 bytes but was " + f.getMaxBodySize());
    }
    positive(f.getBodyTimeout(), "filter.bodyTimeout", errors);
    if (f.getMinBodyRate() < 0) {
      errors.rejectValue("filter.minBodyRate", "sluice.range",
          "must be >= 0 bytes per second but was " + f.getMinBodyRate());
    }
    positive(f.getLogInterval(), "filter.logInterval", errors);
    if (f.getIpv6PrefixLength() < 1 || f.getIpv6PrefixLength() > 128) {
      errors.rejectValue("filter.ipv6PrefixLength", "sluice.range",
          "must be in [1, 128] but was " + f.getIpv6PrefixLength());
    }
    if (f.getUrlPatterns().isEmpty()) {
      errors.rejectValue("filter.urlPatterns", "sluice.required",
          "at least one URL pattern such as /* is needed");
    }
    if (f.getUserAttribute() != null && f.getUserAttribute().isBlank()) {
      errors.rejectValue("filter.userAttribute", "sluice.blank", "must not be blank");
    }
    Health h = p.health;
    if (h.getRateLimiterWeight() <= 0 || h.getRateLimiterWeight() > 1) {
      errors.rejectValue("health.rateLimiterWeight", "sluice.range",
          "must be in (0, 1] but was " + h.getRateLimiterWeight());
    }
    if (blank(h.getDegradedStatus())) {
      errors.rejectValue("health.degradedStatus", "sluice.blank",
          "a status code such as UP or OUT_OF_SERVICE was expected");
    }
  }

  private static void checkLimit(Limit l, String at, Errors errors) {
    if (l == null) {
      return;
    }
    if (l.getLimit() == null) {
      errors.rejectValue(at + "limit", "sluice.required", "calls per period are required");
    } else if (l.getLimit() < 1) {
      errors.rejectValue(at + "limit", "sluice.range", "must be >= 1 but was " + l.getLimit());
    }
    if (l.getPeriod() == null) {
      errors.rejectValue(at + "period", "sluice.required", "a period such as 1m is required");
    } else {
      positive(l.getPeriod(), at + "period", errors);
    }
    if (l.getBurst() != null && l.getBurst() < 1) {
      errors.rejectValue(at + "burst", "sluice.range", "must be >= 1 but was " + l.getBurst());
    }
    if (l.getName() != null && (l.getName().isBlank() || l.getName().contains("{")
        || l.getName().contains("}"))) {
      errors.rejectValue(at + "name", "sluice.name",
          "must be non-blank and without braces but was '" + l.getName() + "'");
    }
  }

  private static void positive(Duration d, String field, Errors errors) {
    if (d == null || d.isZero() || d.isNegative()) {
      errors.rejectValue(field, "sluice.range", "must be a positive duration but was " + d);
    }
  }

  private static String pathProblem(String path) {
    if (path == null || !path.startsWith("/")) {
      return "must start with '/' but was '" + path + "'";
    }
    int star = path.indexOf('*');
    if (star >= 0 && (star != path.length() - 1 || !path.endsWith("/*"))) {
      return "may only end in '/*' as a wildcard but was '" + path + "'";
    }
    return null;
  }

  private static boolean blank(String s) {
    return s == null || s.isBlank();
  }

  /** One route rule ({@code sluice.rules[i]}). Not thread-safe. */
  public static class Rule {
    private String name;
    private List<String> paths = new ArrayList<>();
    private List<String> methods = new ArrayList<>();
    private Limit perIp;
    private Limit perUser;
    private String queuePriority;
    private String quota;
    private int quotaCost = 1;
    private boolean failOpen;
    private boolean shadow;
    private Integer maxBodySize;

    /** Creates an empty rule. */
    public Rule() {}

    /**
     * The rule's name, for logs, statistics and the endpoint.
     *
     * @return the name
     */
    public String getName() {
      return name;
    }

    /**
     * Sets the name.
     *
     * @param name the name
     */
    public void setName(String name) {
      this.name = name;
    }

    /**
     * The path patterns: exact ({@code /api/chat}) or prefix ({@code /api/*}); at least one.
     *
     * @return the patterns
     */
    public List<String> getPaths() {
      return paths;
    }

    /**
     * Sets the path patterns.
     *
     * @param paths the patterns
     */
    public void setPaths(List<String> paths) {
      this.paths = paths;
    }

    /**
     * The HTTP methods the rule applies to; empty for all.
     *
     * @return the methods
     */
    public List<String> getMethods() {
      return methods;
    }

    /**
     * Sets the methods.
     *
     * @param methods the methods
     */
    public void setMethods(List<String> methods) {
      this.methods = methods;
    }

    /**
     * The limit per client IP (IPv6 /64), or null for none.
     *
     * @return the limit
     */
    public Limit getPerIp() {
      return perIp;
    }

    /**
     * Sets the per-IP limit.
     *
     * @param perIp the limit
     */
    public void setPerIp(Limit perIp) {
      this.perIp = perIp;
    }

    /**
     * The limit per authenticated user, or null for none.
     *
     * @return the limit
     */
    public Limit getPerUser() {
      return perUser;
    }

    /**
     * Sets the per-user limit.
     *
     * @param perUser the limit
     */
    public void setPerUser(Limit perUser) {
      this.perUser = perUser;
    }

    /**
     * The queue priority class admitted requests wait in, or null when not queued.
     *
     * @return the class
     */
    public String getQueuePriority() {
      return queuePriority;
    }

    /**
     * Sets the queue priority class.
     *
     * @param queuePriority the class
     */
    public void setQueuePriority(String queuePriority) {
      this.queuePriority = queuePriority;
    }

    /**
     * The quota authenticated requests consume, or null for none.
     *
     * @return the quota name
     */
    public String getQuota() {
      return quota;
    }

    /**
     * Sets the quota name.
     *
     * @param quota the quota name
     */
    public void setQuota(String quota) {
      this.quota = quota;
    }

    /**
     * Units of quota one request consumes (default 1).
     *
     * @return the cost
     */
    public int getQuotaCost() {
      return quotaCost;
    }

    /**
     * Sets the quota cost.
     *
     * @param quotaCost the cost
     */
    public void setQuotaCost(int quotaCost) {
      this.quotaCost = quotaCost;
    }

    /**
     * Whether a failing shared store lets requests through (default false: 503).
     *
     * @return the choice
     */
    public boolean isFailOpen() {
      return failOpen;
    }

    /**
     * Sets fail-open.
     *
     * @param failOpen the choice
     */
    public void setFailOpen(boolean failOpen) {
      this.failOpen = failOpen;
    }

    /**
     * Whether the rule only observes (default false).
     *
     * @return the choice
     */
    public boolean isShadow() {
      return shadow;
    }

    /**
     * Sets shadow mode.
     *
     * @param shadow the choice
     */
    public void setShadow(boolean shadow) {
      this.shadow = shadow;
    }

    /**
     * The largest body this rule accepts in bytes, or null for the filter's.
     *
     * @return the limit
     */
    public Integer getMaxBodySize() {
      return maxBodySize;
    }

    /**
     * Sets the rule's body limit.
     *
     * @param maxBodySize bytes
     */
    public void setMaxBodySize(Integer maxBodySize) {
      this.maxBodySize = maxBodySize;
    }
  }

  /** A rate limit: {@code limit} calls per {@code period}, {@code burst} at once. */
  public static class Limit {
    private Integer limit;
    private Duration period;
    private Integer burst;
    private String name;

    /** Creates an empty limit. */
    public Limit() {}

    /**
     * Calls allowed per period.
     *
     * @return the limit
     */
    public Integer getLimit() {
      return limit;
    }

    /**
     * Sets the calls per period.
     *
     * @param limit the limit
     */
    public void setLimit(Integer limit) {
      this.limit = limit;
    }

    /**
     * The period, such as {@code 1m}.
     *
     * @return the period
     */
    public Duration getPeriod() {
      return period;
    }

    /**
     * Sets the period.
     *
     * @param period the period
     */
    public void setPeriod(Duration period) {
      this.period = period;
    }

    /**
     * Calls allowed at once, or null for the limit.
     *
     * @return the burst
     */
    public Integer getBurst() {
      return burst;
    }

    /**
     * Sets the burst.
     *
     * @param burst the burst
     */
    public void setBurst(Integer burst) {
      this.burst = burst;
    }

    /**
     * The policy name shown in {@code RateLimit-Policy} and used as the store namespace; null
     * for the rule's name (per IP) or the rule's name plus {@code -user} (per user).
     *
     * @return the name
     */
    public String getName() {
      return name;
    }

    /**
     * Sets the policy name.
     *
     * @param name the name
     */
    public void setName(String name) {
      this.name = name;
    }
  }

  /** The request queue ({@code sluice.queue}). Not thread-safe. */
  public static class Queue {
    private String name = "sluice";
    private Integer maxConcurrent;
    private Integer maxConcurrentPerKey;
    private int maxQueued = 1_000;
    private Integer maxQueuedPerKey;
    private Duration timeout = Duration.ofSeconds(60);
    private Duration retryAfter = Duration.ofSeconds(1);
    private List<String> priorities = new ArrayList<>();

    /** Creates the defaults. */
    public Queue() {}

    /**
     * The queue's name (default {@code sluice}).
     *
     * @return the name
     */
    public String getName() {
      return name;
    }

    /**
     * Sets the name.
     *
     * @param name the name
     */
    public void setName(String name) {
      this.name = name;
    }

    /**
     * The global cap on requests running at once; null (the default) means no queue.
     *
     * @return the cap
     */
    public Integer getMaxConcurrent() {
      return maxConcurrent;
    }

    /**
     * Sets the global cap.
     *
     * @param maxConcurrent the cap
     */
    public void setMaxConcurrent(Integer maxConcurrent) {
      this.maxConcurrent = maxConcurrent;
    }

    /**
     * The cap per user (or client address), or null for the global cap.
     *
     * @return the cap
     */
    public Integer getMaxConcurrentPerKey() {
      return maxConcurrentPerKey;
    }

    /**
     * Sets the per-key cap.
     *
     * @param maxConcurrentPerKey the cap
     */
    public void setMaxConcurrentPerKey(Integer maxConcurrentPerKey) {
      this.maxConcurrentPerKey = maxConcurrentPerKey;
    }

    /**
     * The most requests waiting at once (default 1000).
     *
     * @return the bound
     */
    public int getMaxQueued() {
      return maxQueued;
    }

    /**
     * Sets the bound on waiters.
     *
     * @param maxQueued the bound
     */
    public void setMaxQueued(int maxQueued) {
      this.maxQueued = maxQueued;
    }

    /**
     * The most requests one key has waiting, or null for {@code max-queued}.
     *
     * @return the bound
     */
    public Integer getMaxQueuedPerKey() {
      return maxQueuedPerKey;
    }

    /**
     * Sets the bound on one key's waiters.
     *
     * @param maxQueuedPerKey the bound
     */
    public void setMaxQueuedPerKey(Integer maxQueuedPerKey) {
      this.maxQueuedPerKey = maxQueuedPerKey;
    }

    /**
     * The longest wait (default 60 s).
     *
     * @return the timeout
     */
    public Duration getTimeout() {
      return timeout;
    }

    /**
     * Sets the longest wait.
     *
     * @param timeout the timeout
     */
    public void setTimeout(Duration timeout) {
      this.timeout = timeout;
    }

    /**
     * The {@code Retry-After} suggested when shedding (default 1 s).
     *
     * @return the delay
     */
    public Duration getRetryAfter() {
      return retryAfter;
    }

    /**
     * Sets the suggested retry delay.
     *
     * @param retryAfter the delay
     */
    public void setRetryAfter(Duration retryAfter) {
      this.retryAfter = retryAfter;
    }

    /**
     * The priority classes, highest first; empty (the default) for the rules' classes in rule
     * order.
     *
     * @return the classes
     */
    public List<String> getPriorities() {
      return priorities;
    }

    /**
     * Sets the priority classes.
     *
     * @param priorities the classes
     */
    public void setPriorities(List<String> priorities) {
      this.priorities = priorities;
    }
  }

  /** The rate-limit store ({@code sluice.store}). Not thread-safe. */
  public static class Store {
    private StoreType type = StoreType.MEMORY;
    private long maxKeys = 100_000;
    private boolean migrateSchema = true;
    private Redis redis = new Redis();

    /** Creates the defaults. */
    public Store() {}

    /**
     * Where limits are kept (default memory).
     *
     * @return the store type
     */
    public StoreType getType() {
      return type;
    }

    /**
     * Sets the store type.
     *
     * @param type the store type
     */
    public void setType(StoreType type) {
      this.type = type;
    }

    /**
     * Keys each in-memory limiter holds at most (default 100 000).
     *
     * @return the bound
     */
    public long getMaxKeys() {
      return maxKeys;
    }

    /**
     * Sets the in-memory key bound.
     *
     * @param maxKeys the bound
     */
    public void setMaxKeys(long maxKeys) {
      this.maxKeys = maxKeys;
    }

    /**
     * Whether Sluice's PostgreSQL schema is migrated at start-up when the postgres store or a
     * quota uses the {@code DataSource} (default true; advisory-locked, re-runs are no-ops).
     *
     * @return the choice
     */
    public boolean isMigrateSchema() {
      return migrateSchema;
    }

    /**
     * Sets schema migration.
     *
     * @param migrateSchema the choice
     */
    public void setMigrateSchema(boolean migrateSchema) {
      this.migrateSchema = migrateSchema;
    }

    /**
     * The Redis store's settings.
     *
     * @return the settings
     */
    public Redis getRedis() {
      return redis;
    }

    /**
     * Sets the Redis settings.
     *
     * @param redis the settings
     */
    public void setRedis(Redis redis) {
      this.redis = redis;
    }
  }

  /** The Redis store ({@code sluice.store.redis}). Not thread-safe. */
  public static class Redis {
    private String uri;
    private Duration commandTimeout = Duration.ofMillis(100);
    private String prefix = "sluice:rl:";

    /** Creates the defaults. */
    public Redis() {}

    /**
     * The server, such as {@code redis://cache:6379}; used when the application has no Lettuce
     * {@code StatefulRedisConnection} or {@code RedisClient} bean.
     *
     * @return the URI
     */
    public String getUri() {
      return uri;
    }

    /**
     * Sets the URI.
     *
     * @param uri the URI
     */
    public void setUri(String uri) {
      this.uri = uri;
    }

    /**
     * The longest one decision may take (default 100 ms).
     *
     * @return the timeout
     */
    public Duration getCommandTimeout() {
      return commandTimeout;
    }

    /**
     * Sets the command timeout.
     *
     * @param commandTimeout the timeout
     */
    public void setCommandTimeout(Duration commandTimeout) {
      this.commandTimeout = commandTimeout;
    }

    /**
     * The key prefix (default {@code sluice:rl:}).
     *
     * @return the prefix
     */
    public String getPrefix() {
      return prefix;
    }

    /**
     * Sets the key prefix.
     *
     * @param prefix the prefix
     */
    public void setPrefix(String prefix) {
      this.prefix = prefix;
    }
  }

  /** The servlet filter's settings ({@code sluice.filter}). Not thread-safe. */
  public static class Filter {
    private int order = 0;
    private List<String> urlPatterns = new ArrayList<>(List.of("/*"));
    private int maxBodySize = 1 << 20;
    private Duration bodyTimeout = Duration.ofSeconds(10);
    private int minBodyRate = 8 * 1024;
    private boolean rateLimitHeadersOnAdmitted = true;
    private Duration logInterval = Duration.ofMinutes(1);
    private List<String> trustedProxies = new ArrayList<>();
    private ForwardedHeaderType forwardedHeader = ForwardedHeaderType.X_FORWARDED_FOR;
    private int ipv6PrefixLength = 64;
    private String userAttribute;

    /** Creates the defaults. */
    public Filter() {}

    /**
     * The filter's order in the chain (default 0: after Spring Security's -100, so users are
     * known).
     *
     * @return the order
     */
    public int getOrder() {
      return order;
    }

    /**
     * Sets the order.
     *
     * @param order the order
     */
    public void setOrder(int order) {
      this.order = order;
    }

    /**
     * The servlet URL patterns the filter is mapped to (default {@code /*}); rules then match.
     *
     * @return the patterns
     */
    public List<String> getUrlPatterns() {
      return urlPatterns;
    }

    /**
     * Sets the URL patterns.
     *
     * @param urlPatterns the patterns
     */
    public void setUrlPatterns(List<String> urlPatterns) {
      this.urlPatterns = urlPatterns;
    }

    /**
     * The largest body in bytes a matched request may send (default 1 MiB).
     *
     * @return the bound
     */
    public int getMaxBodySize() {
      return maxBodySize;
    }

    /**
     * Sets the body bound.
     *
     * @param maxBodySize bytes
     */
    public void setMaxBodySize(int maxBodySize) {
      this.maxBodySize = maxBodySize;
    }

    /**
     * The base time a body may take to arrive (default 10 s).
     *
     * @return the timeout
     */
    public Duration getBodyTimeout() {
      return bodyTimeout;
    }

    /**
     * Sets the body timeout.
     *
     * @param bodyTimeout the timeout
     */
    public void setBodyTimeout(Duration bodyTimeout) {
      this.bodyTimeout = bodyTimeout;
    }

    /**
     * The slowest body rate given extra time, bytes per second (default 8192).
     *
     * @return the rate
     */
    public int getMinBodyRate() {
      return minBodyRate;
    }

    /**
     * Sets the slowest body rate.
     *
     * @param minBodyRate bytes per second
     */
    public void setMinBodyRate(int minBodyRate) {
      this.minBodyRate = minBodyRate;
    }

    /**
     * Whether admitted responses carry the RateLimit headers (default true).
     *
     * @return the choice
     */
    public boolean isRateLimitHeadersOnAdmitted() {
      return rateLimitHeadersOnAdmitted;
    }

    /**
     * Sets the RateLimit headers on admitted responses.
     *
     * @param rateLimitHeadersOnAdmitted the choice
     */
    public void setRateLimitHeadersOnAdmitted(boolean rateLimitHeadersOnAdmitted) {
      this.rateLimitHeadersOnAdmitted = rateLimitHeadersOnAdmitted;
    }

    /**
     * The least time between two log lines about one recurring condition (default 1 min).
     *
     * @return the interval
     */
    public Duration getLogInterval() {
      return logInterval;
    }

    /**
     * Sets the log interval.
     *
     * @param logInterval the interval
     */
    public void setLogInterval(Duration logInterval) {
      this.logInterval = logInterval;
    }

    /**
     * The proxies (CIDR blocks) whose forwarding headers are believed; empty (the default)
     * keys on the socket peer only.
     *
     * @return the CIDR blocks
     */
    public List<String> getTrustedProxies() {
      return trustedProxies;
    }

    /**
     * Sets the trusted proxies.
     *
     * @param trustedProxies CIDR blocks
     */
    public void setTrustedProxies(List<String> trustedProxies) {
      this.trustedProxies = trustedProxies;
    }

    /**
     * The header trusted proxies use.
     *
     * @return the header
     */
    public ForwardedHeaderType getForwardedHeader() {
      return forwardedHeader;
    }

    /**
     * Sets the forwarding header.
     *
     * @param forwardedHeader the header
     */
    public void setForwardedHeader(ForwardedHeaderType forwardedHeader) {
      this.forwardedHeader = forwardedHeader;
    }

    /**
     * The IPv6 prefix clients are keyed by (default 64).
     *
     * @return bits
     */
    public int getIpv6PrefixLength() {
      return ipv6PrefixLength;
    }

    /**
     * Sets the IPv6 prefix length.
     *
     * @param ipv6PrefixLength bits
     */
    public void setIpv6PrefixLength(int ipv6PrefixLength) {
      this.ipv6PrefixLength = ipv6PrefixLength;
    }

    /**
     * The request attribute an earlier authentication filter puts the user in; null (the
     * default) for the request's principal. A {@code UserKeyResolver} bean replaces both.
     *
     * @return the attribute name
     */
    public String getUserAttribute() {
      return userAttribute;
    }

    /**
     * Sets the user attribute.
     *
     * @param userAttribute the attribute name
     */
    public void setUserAttribute(String userAttribute) {
      this.userAttribute = userAttribute;
    }
  }

  /** The health indicator ({@code sluice.health}). Not thread-safe. */
  public static class Health {
    private String degradedStatus = "UP";
    private double rateLimiterWeight = 0.5;

    /** Creates the defaults. */
    public Health() {}

    /**
     * The Spring status a degraded Sluice report maps to (default {@code UP}; healthy is UP,
     * unhealthy DOWN). {@code OUT_OF_SERVICE} takes a degraded instance out of rotation.
     *
     * @return the status code
     */
    public String getDegradedStatus() {
      return degradedStatus;
    }

    /**
     * Sets the degraded status.
     *
     * @param degradedStatus the status code
     */
    public void setDegradedStatus(String degradedStatus) {
      this.degradedStatus = degradedStatus == null ? null
          : degradedStatus.trim().toUpperCase(Locale.ROOT);
    }

    /**
     * How far rate-limit refusals can pull the score down, in (0, 1] (default 0.5: refusals
     * are the limiter doing its job, so at worst degraded).
     *
     * @return the weight
     */
    public double getRateLimiterWeight() {
      return rateLimiterWeight;
    }

    /**
     * Sets the rate limiter weight.
     *
     * @param rateLimiterWeight the weight
     */
    public void setRateLimiterWeight(double rateLimiterWeight) {
      this.rateLimiterWeight = rateLimiterWeight;
    }
  }
}
