package dev.sluice.example.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A stand-in for the NCBI E-utilities service, served by the app itself on loopback: {@code
 * esearch.fcgi} and {@code esummary.fcgi} with {@code retmode=json} answers shaped like NCBI's,
 * from a small synthetic corpus (the records are made up for the demo). {@code POST
 * /stub/control {"mode":"slow"|"failing"|"normal"}} makes it slow or failing, to watch the
 * outbound guard's breaker open and recover. Every path refuses non-loopback clients.
 *
 * <p>Thread-safe.
 */
final class LiteratureStub extends HttpServlet {
  private static final long serialVersionUID = 1L;

  /** How the stub behaves. */
  enum Mode { NORMAL, SLOW, FAILING }

  /** One synthetic record. */
  record Article(String uid, String title, List<String> authors, String pubdate, String source,
      String keywords) {}

  static final List<Article> CORPUS = List.of(
      new Article("39000001", "Sleep duration and memory consolidation in older adults: a cohort study",
          List.of("Example A", "Sample B"), "2023 Mar", "J Demo Med", "sleep memory ageing cognition"),
      new Article("39000002", "Short sleep and working memory in shift workers",
          List.of("Placeholder C"), "2021 Nov", "Demo Occup Health", "sleep memory shift work"),
      new Article("39000003", "Aerobic exercise and blood pressure: a randomised trial",
          List.of("Example D", "Sample E", "Mock F"), "2022 Jun", "Demo Cardiol",
          "exercise blood pressure hypertension heart"),
      new Article("39000004", "Resistance training and insulin sensitivity in type 2 diabetes",
          List.of("Mock G"), "2020 Feb", "Demo Diabetes Res", "exercise diabetes insulin glucose"),
      new Article("39000005", "Dietary fibre intake and colorectal cancer risk: a meta-analysis",
          List.of("Sample H", "Example I"), "2024 Jan", "Demo Nutr Rev",
          "diet fibre fiber cancer colorectal nutrition"),
      new Article("39000006", "Vitamin D supplementation and respiratory infections",
          List.of("Placeholder J"), "2019 Sep", "Demo Infect Dis", "vitamin supplement infection respiratory"),
      new Article("39000007", "Screen time and sleep quality in adolescents",
          List.of("Example K", "Mock L"), "2022 Oct", "Demo Pediatr", "sleep screen adolescents children"),
      new Article("39000008", "Mediterranean diet and cognitive decline",
          List.of("Sample M"), "2021 Apr", "Demo Neurol", "diet cognition memory dementia nutrition"),
      new Article("39000009", "Walking programmes and depression in primary care",
          List.of("Example N", "Placeholder O"), "2023 Aug", "Demo Psych Med",
          "exercise walking depression mental health"),
      new Article("39000010", "Caffeine, sleep latency and next-day alertness",
          List.of("Mock P"), "2020 Dec", "Demo Sleep Res", "sleep caffeine coffee alertness"),
      new Article("39000011", "Salt reduction and cardiovascular events: a cluster trial",
          List.of("Sample Q", "Example R"), "2024 May", "Demo Cardiol",
          "diet salt sodium blood pressure heart cardiovascular"),
      new Article("39000012", "Mindfulness training for chronic pain",
          List.of("Placeholder S"), "2022 Jan", "Demo Pain Med", "pain mindfulness mental health"));

  private final AtomicReference<Mode> mode = new AtomicReference<>(Mode.NORMAL);
  private volatile long slowMillis = 3_000;
  private final AtomicLong calls = new AtomicLong();

  /**
   * Sets the mode.
   *
   * @param m the mode
   */
  void mode(Mode m) {
    mode.set(m);
  }

  /**
   * How many E-utilities calls the stub has answered (or failed).
   *
   * @return the count
   */
  long calls() {
    return calls.get();
  }

  @Override
  protected void service(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    if (!InetAddress.getByName(request.getRemoteAddr()).isLoopbackAddress()) {
      Json.error(response, 403, "forbidden", "the literature stub answers loopback clients only");
      return;
    }
    String path = request.getPathInfo() == null ? "" : request.getPathInfo();
    switch (path) {
      case "/control" -> control(request, response);
      case "/eutils/esearch.fcgi" -> eutils(request, response, true);
      case "/eutils/esummary.fcgi" -> eutils(request, response, false);
      default -> Json.error(response, 404, "not_found", "no stub at " + path);
    }
  }

  private void control(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    if ("POST".equals(request.getMethod())) {
      try {
        JsonNode body = Json.readObject(request);
        String m = Json.requiredText(body, "mode", 20).toUpperCase(Locale.ROOT);
        Mode next;
        try {
          next = Mode.valueOf(m);
        } catch (IllegalArgumentException e) {
          throw new Json.BadRequest(400, "bad_field", "mode must be normal, slow or failing");
        }
        if (body.hasNonNull("delayMs")) {
          slowMillis = Math.max(0, Math.min(60_000, body.get("delayMs").asLong()));
        }
        mode.set(next);
      } catch (Json.BadRequest e) {
        Json.error(response, e);
        return;
      }
    }
    Json.write(response, 200, Json.object()
        .put("mode", mode.get().name().toLowerCase(Locale.ROOT))
        .put("delayMs", slowMillis)
        .put("calls", calls.get()));
  }

  private void eutils(HttpServletRequest request, HttpServletResponse response, boolean search)
      throws IOException {
    calls.incrementAndGet();
    Mode m = mode.get();
    if (m == Mode.FAILING) {
      Json.error(response, 500, "stub_failing", "the literature stub is in failing mode");
      return;
    }
    if (m == Mode.SLOW) {
      try {
        Thread.sleep(slowMillis); // simulates a slow downstream service, on purpose
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
    Json.write(response, 200, search ? esearch(request) : esummary(request));
  }

  private static ObjectNode esearch(HttpServletRequest request) {
    String term = request.getParameter("term") == null ? "" : request.getParameter("term");
    int retmax = parse(request.getParameter("retmax"), 20);
    List<String> words = new ArrayList<>();
    for (String w : term.toLowerCase(Locale.ROOT).split("[^\\p{L}\\p{N}]+")) {
      if (w.length() > 2 && !STOP.contains(w)) {
        words.add(w);
      }
    }
    record Hit(Article a, int score) {}
    List<Hit> hits = new ArrayList<>();
    for (Article a : CORPUS) {
      String text = (a.title() + " " + a.keywords()).toLowerCase(Locale.ROOT);
      int score = 0;
      for (String w : words) {
        if (text.contains(w)) {
          score++;
        }
      }
      if (score > 0) {
        hits.add(new Hit(a, score));
      }
    }
    hits.sort((x, y) -> y.score() != x.score() ? Integer.compare(y.score(), x.score())
        : y.a().pubdate().compareTo(x.a().pubdate()));
    ObjectNode root = Json.object();
    root.putObject("header").put("type", "esearch").put("version", "0.3");
    ObjectNode r = root.putObject("esearchresult");
    r.put("count", Integer.toString(hits.size()));
    r.put("retmax", Integer.toString(Math.min(retmax, hits.size())));
    r.put("retstart", "0");
    ArrayNode ids = r.putArray("idlist");
    hits.stream().limit(retmax).forEach(h -> ids.add(h.a().uid()));
    r.putArray("translationset");
    r.put("querytranslation", term);
    return root;
  }

  private static ObjectNode esummary(HttpServletRequest request) {
    String id = request.getParameter("id") == null ? "" : request.getParameter("id");
    ObjectNode root = Json.object();
    root.putObject("header").put("type", "esummary").put("version", "0.3");
    ObjectNode result = root.putObject("result");
    ArrayNode uids = result.putArray("uids");
    for (String uid : id.split(",")) {
      for (Article a : CORPUS) {
        if (a.uid().equals(uid.trim())) {
          uids.add(a.uid());
          ObjectNode doc = result.putObject(a.uid());
          doc.put("uid", a.uid());
          doc.put("pubdate", a.pubdate());
          doc.put("source", a.source());
          ArrayNode authors = doc.putArray("authors");
          a.authors().forEach(n -> authors.addObject().put("name", n).put("authtype", "Author"));
          doc.put("title", a.title());
          doc.put("fulljournalname", a.source());
        }
      }
    }
    return root;
  }

  private static final java.util.Set<String> STOP = java.util.Set.of("the", "and", "for", "what",
      "does", "how", "are", "with", "about", "from", "that", "this", "which", "who", "why", "can");

  private static int parse(String s, int fallback) {
    try {
      return s == null ? fallback : Math.max(0, Math.min(100, Integer.parseInt(s)));
    } catch (NumberFormatException e) {
      return fallback;
    }
  }
}
