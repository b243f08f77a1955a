package dev.sluice.example.chat;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * The chat app's settings, from command-line flags ({@code --port 9090}) or the environment
 * ({@code PORT=9090}); a flag wins over the environment.
 *
 * <table>
 *   <caption>settings</caption>
 *   <tr><th>flag</th><th>environment</th><th>default</th></tr>
 *   <tr><td>{@code --host}</td><td>{@code HOST}</td><td>127.0.0.1</td></tr>
 *   <tr><td>{@code --port}</td><td>{@code PORT}</td><td>8080 (0 = any free port)</td></tr>
 *   <tr><td>{@code --db-url}</td><td>{@code SLUICE_DB_URL}</td><td>none: embedded PostgreSQL</td></tr>
 *   <tr><td>{@code --db-user}</td><td>{@code SLUICE_DB_USER}</td><td>from the URL</td></tr>
 *   <tr><td>{@code --db-password}</td><td>{@code SLUICE_DB_PASSWORD}</td><td>from the URL</td></tr>
 *   <tr><td>{@code --literature-url}</td><td>{@code SLUICE_LITERATURE_URL}</td>
 *       <td>the built-in stub on loopback</td></tr>
 *   <tr><td>{@code --pro-chats}</td><td>{@code SLUICE_PRO_CHATS}</td><td>100 a day</td></tr>
 *   <tr><td>{@code --admin-token}</td><td>{@code SLUICE_ADMIN_TOKEN}</td>
 *       <td>random, printed at start</td></tr>
 *   <tr><td>{@code --rate-limit-store}</td><td>{@code SLUICE_RATE_LIMIT_STORE}</td>
 *       <td>{@code memory}; or {@code postgres} (the app's database) or
 *       {@code redis://host:port}, to share the per-IP limits between instances</td></tr>
 * </table>
 *
 * <p>Immutable and thread-safe.
 *
 * @param host the address Jetty binds
 * @param port the port, 0 for an ephemeral one
 * @param dbUrl a JDBC URL of a real PostgreSQL, or null for the embedded one
 * @param dbUser the database user, or null
 * @param dbPassword the database password, or null
 * @param literatureUrl the E-utilities base URL (ending in {@code /}), or null for the stub
 * @param proChatsPerDay the pro plan's daily chat allowance
 * @param adminToken the token the health endpoint's admin actions and pro sessions need, or null
 *     for a random one
 * @param rateLimitStore where the per-IP limits keep their state; null means
 *     {@link LimitStore#MEMORY}
 */
public record AppConfig(
    String host,
    int port,
    String dbUrl,
    String dbUser,
    String dbPassword,
    URI literatureUrl,
    int proChatsPerDay,
    String adminToken,
    AppConfig.LimitStore rateLimitStore) {

  /** The public E-utilities base URL, for {@code --literature-url ncbi}. */
  public static final URI NCBI = URI.create("https://eutils.ncbi.nlm.nih.gov/entrez/eutils/");

  /**
   * Validates the settings.
   *
   * @throws IllegalArgumentException if the port is out of range, the pro allowance negative or
   *     the admin token shorter than 16 characters
   */
  public AppConfig {
    Objects.requireNonNull(host, "host");
    if (port < 0 || port > 65_535) {
      throw new IllegalArgumentException("port must be 0..65535 but was " + port);
    }
    if (adminToken != null && adminToken.length() < 16) {
      throw new IllegalArgumentException("the admin token must be at least 16 characters");
    }
    if (proChatsPerDay < 0) {
      throw new IllegalArgumentException("proChatsPerDay must be >= 0 but was " + proChatsPerDay);
    }
    if (rateLimitStore == null) {
      rateLimitStore = LimitStore.MEMORY;
    }
  }

  /**
   * The defaults: loopback, port 8080, embedded PostgreSQL, the stub literature service.
   *
   * @return the default settings
   */
  public static AppConfig defaults() {
    return new AppConfig("127.0.0.1", 8080, null, null, null, null, 100, null,
        LimitStore.MEMORY);
  }

  /**
   * Reads flags and then the environment.
   *
   * @param args {@code --name value} or {@code --name=value} pairs
   * @param env the environment
   * @return the settings
   * @throws IllegalArgumentException for an unknown flag, a flag without a value, a bad number or
   *     a rate-limit store that is none of the accepted forms
   */
  public static AppConfig parse(String[] args, Map<String, String> env) {
    Map<String, String> flags = flags(args);
    String host = pick(flags, env, "host", "HOST", "127.0.0.1");
    int port = number(pick(flags, env, "port", "PORT", "8080"), "port");
    String literature = pick(flags, env, "literature-url", "SLUICE_LITERATURE_URL", null);
    URI literatureUrl = null;
    if (literature != null && !literature.isBlank()) {
      literatureUrl = "ncbi".equalsIgnoreCase(literature) ? NCBI
          : URI.create(literature.endsWith("/") ? literature : literature + "/");
    }
    return new AppConfig(host, port,
        blankToNull(pick(flags, env, "db-url", "SLUICE_DB_URL", null)),
        blankToNull(pick(flags, env, "db-user", "SLUICE_DB_USER", null)),
        blankToNull(pick(flags, env, "db-password", "SLUICE_DB_PASSWORD", null)),
        literatureUrl,
        number(pick(flags, env, "pro-chats", "SLUICE_PRO_CHATS", "100"), "pro-chats"),
        blankToNull(pick(flags, env, "admin-token", "SLUICE_ADMIN_TOKEN", null)),
        LimitStore.parse(pick(flags, env, "rate-limit-store", "SLUICE_RATE_LIMIT_STORE",
            "memory")));
  }

  /**
   * A copy on another port.
   *
   * @param newPort the port
   * @return the copy
   */
  public AppConfig withPort(int newPort) {
    return new AppConfig(host, newPort, dbUrl, dbUser, dbPassword, literatureUrl, proChatsPerDay,
        adminToken, rateLimitStore);
  }

  /**
   * A copy with a database URL.
   *
   * @param url the JDBC URL, or null for embedded PostgreSQL
   * @return the copy
   */
  public AppConfig withDbUrl(String url) {
    return new AppConfig(host, port, url, dbUser, dbPassword, literatureUrl, proChatsPerDay,
        adminToken, rateLimitStore);
  }

  /**
   * A copy with an admin token.
   *
   * @param token the token
   * @return the copy
   */
  public AppConfig withAdminToken(String token) {
    return new AppConfig(host, port, dbUrl, dbUser, dbPassword, literatureUrl, proChatsPerDay,
        token, rateLimitStore);
  }

  /**
   * A copy with another rate-limit store.
   *
   * @param store where the per-IP limits keep their state
   * @return the copy
   */
  public AppConfig withRateLimitStore(LimitStore store) {
    return new AppConfig(host, port, dbUrl, dbUser, dbPassword, literatureUrl, proChatsPerDay,
        adminToken, store);
  }

  private static final java.util.Set<String> KNOWN = java.util.Set.of("host", "port", "db-url",
      "db-user", "db-password", "literature-url", "pro-chats", "admin-token", "rate-limit-store");

  private static Map<String, String> flags(String[] args) {
    Map<String, String> flags = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (!a.startsWith("--")) {
        throw new IllegalArgumentException("unexpected argument '" + a + "'; flags are --name value");
      }
      String name = a.substring(2);
      String value;
      int eq = name.indexOf('=');
      if (eq >= 0) {
        value = name.substring(eq + 1);
        name = name.substring(0, eq);
      } else if (i + 1 < args.length) {
        value = args[++i];
      } else {
        throw new IllegalArgumentException("flag --" + name + " needs a value");
      }
      if (!KNOWN.contains(name.toLowerCase(Locale.ROOT))) {
        throw new IllegalArgumentException("unknown flag --" + name + "; known: " + KNOWN);
      }
      flags.put(name.toLowerCase(Locale.ROOT), value);
    }
    return flags;
  }

  private static String pick(Map<String, String> flags, Map<String, String> env, String flag,
      String var, String fallback) {
    String v = flags.get(flag);
    if (v == null) {
      v = env.get(var);
    }
    return v == null || v.isBlank() ? fallback : v;
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s;
  }

  private static int number(String s, String name) {
    try {
      return Integer.parseInt(s.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--" + name + " must be a whole number but was '" + s + "'",
          e);
    }
  }

  /**
   * Where the per-IP rate limits keep their state ({@code --rate-limit-store}): in this process
   * ({@code memory}, the default: each instance counts on its own), in the app's PostgreSQL
   * ({@code postgres}), or in Redis ({@code redis://host:port}, {@code rediss://} for TLS, with
   * {@code redis://:password@host:port/db} as Lettuce reads it). The two shared forms let several
   * instances of the app enforce one limit.
   *
   * <p>Immutable and thread-safe.
   *
   * @param kind which store
   * @param redisUri the Redis server, for {@link Kind#REDIS} only (null otherwise)
   */
  public record LimitStore(Kind kind, URI redisUri) {
    /** The accepted forms, for error messages. */
    static final String FORMS = "memory, postgres or redis://host:port (rediss:// for TLS)";

    /** Limits in this process: every instance counts on its own. */
    public static final LimitStore MEMORY = new LimitStore(Kind.MEMORY, null);
    /** Limits in the app's own PostgreSQL database, shared by every instance using it. */
    public static final LimitStore POSTGRES = new LimitStore(Kind.POSTGRES, null);

    /** The kinds of store. */
    public enum Kind {
      /** In this process. */
      MEMORY,
      /** In the app's PostgreSQL ({@code PostgresRateLimitStore}). */
      POSTGRES,
      /** In Redis ({@code RedisRateLimitStore}). */
      REDIS
    }

    /**
     * Validates the choice.
     *
     * @throws IllegalArgumentException if {@code kind} is null, a Redis store has no usable URI,
     *     or another kind has one
     */
    public LimitStore {
      if (kind == null) {
        throw new IllegalArgumentException("--rate-limit-store must be " + FORMS
            + " but was null");
      }
      if ((kind == Kind.REDIS) != (redisUri != null)) {
        throw new IllegalArgumentException("--rate-limit-store: a Redis URI goes with the redis"
            + " kind only (kind " + kind + ", URI " + redisUri + ")");
      }
      if (redisUri != null) {
        String scheme = redisUri.getScheme();
        if (scheme == null || !(scheme.equalsIgnoreCase("redis")
            || scheme.equalsIgnoreCase("rediss")) || redisUri.getHost() == null) {
          throw new IllegalArgumentException("--rate-limit-store must be " + FORMS + " but was '"
              + redact(redisUri) + "'");
        }
      }
    }

    /**
     * Reads the flag's value.
     *
     * @param value {@code memory}, {@code postgres} or a {@code redis://} / {@code rediss://} URI
     * @return the choice
     * @throws IllegalArgumentException naming {@code --rate-limit-store} and the accepted forms
     *     when the value is none of them
     */
    public static LimitStore parse(String value) {
      String v = value == null ? "" : value.trim();
      if (v.equalsIgnoreCase("memory")) {
        return MEMORY;
      }
      if (v.equalsIgnoreCase("postgres")) {
        return POSTGRES;
      }
      String lower = v.toLowerCase(Locale.ROOT);
      if (lower.startsWith("redis://") || lower.startsWith("rediss://")) {
        URI uri;
        try {
          uri = new URI(v);
        } catch (URISyntaxException e) {
          throw new IllegalArgumentException("--rate-limit-store must be " + FORMS
              + " but was not a valid URI: " + e.getReason(), e);
        }
        return new LimitStore(Kind.REDIS, uri);
      }
      throw new IllegalArgumentException("--rate-limit-store (SLUICE_RATE_LIMIT_STORE) must be "
          + FORMS + " but was '" + v + "'");
    }

    /**
     * Whether several instances share limits kept here.
     *
     * @return true for PostgreSQL and Redis
     */
    public boolean shared() {
      return kind != Kind.MEMORY;
    }

    /**
     * The flag's value, with a Redis password hidden.
     *
     * @return {@code memory}, {@code postgres} or the Redis URI
     */
    @Override
    public String toString() {
      return switch (kind) {
        case MEMORY -> "memory";
        case POSTGRES -> "postgres";
        case REDIS -> redact(redisUri);
      };
    }

    private static String redact(URI uri) {
      String s = uri.toString();
      return uri.getRawUserInfo() == null ? s : s.replace(uri.getRawUserInfo() + "@", "***@");
    }
  }
}
