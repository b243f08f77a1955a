package dev.sluice.example.chat;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.testing.TestDatabase;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The chat API end to end: real Jetty on port 0, real PostgreSQL, real HTTP client. */
class ChatApiTest {
  private static TestDatabase db;

  @BeforeAll
  static void createDatabase() {
    db = TestApps.database();
  }

  @AfterAll
  static void dropDatabase() {
    if (db != null) {
      db.close();
    }
  }

  private ChatApp app;
  private Http http;

  @BeforeEach
  void start() throws Exception {
    app = TestApps.startApp(db);
    http = new Http(app.baseUri());
  }

  @AfterEach
  void stop() {
    if (app != null) {
      app.close();
    }
  }

  @Test
  void session_issuesRandomTokenAndStoresOnlyItsHash() throws Exception {
    HttpResponse<String> r = http.post("/api/session", null);
    assertThat(r.statusCode()).isEqualTo(201);
    JsonNode body = Http.json(r);
    String token = body.path("token").asText();
    assertThat(token).matches("[A-Za-z0-9_-]{43}");
    assertThat(body.path("plan").asText()).isEqualTo("free");
    try (Connection c = db.connect();
        PreparedStatement ps = c.prepareStatement(
            "SELECT user_id, plan FROM chat_app.sessions WHERE token_sha256 = ?")) {
      ps.setBytes(1, SessionStore.sha256(token));
      try (ResultSet rs = ps.executeQuery()) {
        assertThat(rs.next()).isTrue();
        assertThat(rs.getString(1)).isEqualTo(body.path("userId").asText());
      }
    }
    assertThat(http.token()).isNotEqualTo(token);
  }

  @Test
  void chat_withoutValidToken_is401_andAUserHeaderDoesNotHelp() throws Exception {
    HttpResponse<String> none = http.post("/api/chat", "{\"message\":\"sleep\"}",
        "X-User-Id", "alice");
    assertThat(none.statusCode()).isEqualTo(401);
    assertThat(none.headers().firstValue("WWW-Authenticate")).hasValue("Bearer");
    assertThat(Http.json(none).path("error").asText()).isEqualTo("unauthorized");
    HttpResponse<String> wrong = http.chat("A".repeat(43), "sleep");
    assertThat(wrong.statusCode()).isEqualTo(401);
  }

  @Test
  void chat_answersFromRetrievedRecords_withSourcesAndQuota() throws Exception {
    String token = http.token();
    HttpResponse<String> r = http.chat(token, "Does sleep affect memory?");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonNode body = Http.json(r);
    assertThat(body.path("answer").asText()).contains("Sleep duration and memory consolidation");
    assertThat(body.path("sources").size()).isBetween(1, 5);
    assertThat(body.path("sources").get(0).path("uid").asText()).isEqualTo("39000001");
    JsonNode q = body.path("quota");
    assertThat(q.path("used").asLong()).isEqualTo(1);
    assertThat(q.path("limit").asLong()).isEqualTo(3);
    assertThat(q.path("remaining").asLong()).isEqualTo(2);
    assertThat(q.path("resetsAt").asText()).endsWith("Z");
    assertThat(r.headers().firstValue("RateLimit-Policy")).hasValue("\"chat\";q=5;w=60");
  }

  @Test
  void chat_freePlan_allowsThreeADay_thenQuotaExceeded() throws Exception {
    String token = http.token();
    for (int i = 1; i <= 3; i++) {
      HttpResponse<String> ok = http.chat(token, "exercise and blood pressure " + i);
      assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
      assertThat(Http.json(ok).path("quota").path("remaining").asLong()).isEqualTo(3 - i);
    }
    HttpResponse<String> r = http.chat(token, "one more");
    assertThat(r.statusCode()).isEqualTo(429);
    JsonNode body = Http.json(r);
    assertThat(body.path("error").asText()).isEqualTo("quota_exceeded");
    assertThat(body.path("used").asLong()).isEqualTo(3);
    assertThat(body.path("limit").asLong()).isEqualTo(3);
    assertThat(r.headers().firstValue("Retry-After")).isPresent();
  }

  @Test
  void chat_whenLiteratureFails_answers503AndRefundsTheQuota() throws Exception {
    String token = http.token();
    app.stub().mode(LiteratureStub.Mode.FAILING);
    HttpResponse<String> failed = http.chat(token, "sleep");
    assertThat(failed.statusCode()).isEqualTo(503);
    assertThat(failed.headers().firstValue("Retry-After")).isPresent();
    assertThat(Http.json(failed).path("error").asText()).isEqualTo("literature_unavailable");
    app.stub().mode(LiteratureStub.Mode.NORMAL);
    app.wiring().literatureBreaker.reset();
    HttpResponse<String> ok = http.chat(token, "sleep");
    assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
    assertThat(Http.json(ok).path("quota").path("used").asLong())
        .as("the failed chat was refunded").isEqualTo(1);
  }

  @Test
  void chat_badRequests_areJsonErrors_andCostNoQuota() throws Exception {
    String token = http.token();
    String auth = "Bearer " + token;
    HttpResponse<String> malformed = http.post("/api/chat", "{\"message\":", "Authorization", auth);
    assertThat(malformed.statusCode()).isEqualTo(400);
    assertThat(Http.json(malformed).path("error").asText()).isEqualTo("bad_json");
    HttpResponse<String> missing = http.post("/api/chat", "{\"useRAG\":true}",
        "Authorization", auth);
    assertThat(missing.statusCode()).isEqualTo(400);
    assertThat(Http.json(missing).path("error").asText()).isEqualTo("missing_field");
    HttpResponse<String> longMessage = http.chat(token, "x".repeat(ApiServlet.MAX_MESSAGE + 1));
    assertThat(longMessage.statusCode()).isEqualTo(413);
    HttpResponse<String> hugeBody = http.post("/api/chat",
        "{\"message\":\"" + "y".repeat(Json.MAX_BODY) + "\"}", "Authorization", auth);
    assertThat(hugeBody.statusCode()).isEqualTo(413);
    assertThat(Http.json(hugeBody).path("error").asText()).isEqualTo("too_large");
    HttpResponse<String> ok = http.chat(token, "sleep");
    assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
    assertThat(Http.json(ok).path("quota").path("used").asLong())
        .as("requests the client got wrong cost no quota").isEqualTo(1);
  }

  @Test
  void chat_perIpLimit_fiveAMinute_then429WithRetryAfter() throws Exception {
    HttpResponse<String> pro = http.post("/api/session", "{\"plan\":\"pro\"}",
        "Authorization", "Bearer " + TestApps.ADMIN);
    assertThat(pro.statusCode()).isEqualTo(201);
    String token = Http.json(pro).path("token").asText();
    for (int i = 0; i < 5; i++) {
      HttpResponse<String> ok = http.chat(token, "diet");
      assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
      assertThat(Http.json(ok).path("quota").path("limit").asLong()).as("pro plan").isEqualTo(7);
    }
    HttpResponse<String> limited = http.chat(token, "diet");
    assertThat(limited.statusCode()).isEqualTo(429);
    assertThat(Http.json(limited).path("error").asText()).isEqualTo("rate_limited");
    assertThat(limited.headers().firstValue("Retry-After")).isPresent();
  }

  @Test
  void chat_perIpLimit_appliesBeforeAuthentication_soForgedTokensAreLimitedToo()
      throws Exception {
    for (int i = 0; i < 5; i++) {
      assertThat(http.chat("forged-" + i, "diet").statusCode()).isEqualTo(401);
    }
    HttpResponse<String> limited = http.chat("forged-6", "diet");
    assertThat(limited.statusCode()).isEqualTo(429);
    assertThat(Http.json(limited).path("error").asText()).isEqualTo("rate_limited");
  }

  @Test
  void session_proPlanNeedsTheAdminToken() throws Exception {
    assertThat(http.post("/api/session", "{\"plan\":\"pro\"}").statusCode()).isEqualTo(403);
    assertThat(http.post("/api/session", "{\"plan\":\"pro\"}", "Authorization", "Bearer nope")
        .statusCode()).isEqualTo(403);
    assertThat(http.post("/api/session", "{\"plan\":\"gold\"}").statusCode()).isEqualTo(400);
  }

  @Test
  void researchAndExport_returnSourcesAndTheConversation() throws Exception {
    String token = http.token();
    String auth = "Bearer " + token;
    HttpResponse<String> research = http.post("/api/research",
        "{\"query\":\"exercise blood pressure\"}", "Authorization", auth);
    assertThat(research.statusCode()).as(research.body()).isEqualTo(200);
    assertThat(Http.json(research).path("count").asInt()).isGreaterThan(0);
    http.chat(token, "Mindfulness and \"pain\", =cmd");
    HttpResponse<String> md = http.post("/api/export", "{\"format\":\"markdown\"}",
        "Authorization", auth);
    assertThat(md.statusCode()).isEqualTo(200);
    assertThat(md.headers().firstValue("Content-Type").orElse("")).startsWith("text/markdown");
    assertThat(md.body()).contains("# Conversation", "exercise blood pressure",
        "Mindfulness and \"pain\"");
    HttpResponse<String> csv = http.post("/api/export", "{\"format\":\"csv\"}",
        "Authorization", auth);
    assertThat(csv.statusCode()).isEqualTo(200);
    assertThat(csv.body()).startsWith("time,kind,question,answer,sources\r\n")
        .contains("\"Mindfulness and \"\"pain\"\", =cmd\"");
    HttpResponse<String> other = http.post("/api/export", "{\"format\":\"pdf\"}",
        "Authorization", auth);
    assertThat(other.statusCode()).isEqualTo(400);
  }

  @Test
  void pages_areServedFromTheJar_withoutExternalScripts() throws Exception {
    for (String page : new String[] {"/", "/dashboard"}) {
      HttpResponse<String> r = http.get(page);
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("text/html");
      assertThat(r.body()).doesNotContain("http://", "https://", "//cdn");
    }
    assertThat(http.get("/static/charts.js").statusCode()).isEqualTo(200);
    assertThat(http.get("/static/../pom.xml").statusCode()).isEqualTo(404);
  }
}
