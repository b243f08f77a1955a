package dev.sluice.example.chat;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.RequestQueue;
import dev.sluice.testing.TestDatabase;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The pages in headless Chromium (Debian's {@code chromium} and {@code chromium-driver}, driven by
 * Selenium; {@code .ci/run} installs them). Skipped, saying why, when they are not installed.
 * Never downloads a browser or a driver: both paths are given explicitly ({@code
 * SLUICE_CHROMIUM}, {@code SLUICE_CHROMEDRIVER} override the Debian paths).
 *
 * <p>With {@code -Dsluice.screenshots=docs/screenshots} (relative to the repository root) it
 * saves {@code chat.png}, {@code chat-waiting.png}, {@code chat-busy.png} and {@code
 * dashboard.png} there.
 */
class BrowserTest {
  private static TestDatabase db;
  private static ChatApp app;
  private static WebDriver driver;
  private static Path profile;
  private static String skipReason;

  @BeforeAll
  static void start() throws Exception {
    String chromium = setting("SLUICE_CHROMIUM", "/usr/bin/chromium");
    String chromedriver = setting("SLUICE_CHROMEDRIVER", "/usr/bin/chromedriver");
    boolean have = Files.isExecutable(Path.of(chromium)) && Files.isExecutable(Path.of(chromedriver));
    if (!have) {
      String reason = "SKIPPED browser tests: " + chromium + " and " + chromedriver
          + " are needed (Debian: apt-get install chromium chromium-driver; .ci/run does this"
          + " when apt-get is available)";
      System.err.println(reason);
      skipReason = reason;   // reported by the test itself, so it counts as skipped
      return;
    }
    db = TestApps.database();
    app = TestApps.startApp(db);
    profile = Files.createTempDirectory("sluice-chromium-");
    ChromeOptions options = new ChromeOptions();
    options.setBinary(chromium);
    options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,900",
        "--user-data-dir=" + profile);
    ChromeDriverService service = new ChromeDriverService.Builder()
        .usingDriverExecutable(new File(chromedriver))
        .usingAnyFreePort()
        .withTimeout(Duration.ofSeconds(30))
        .build();
    driver = new ChromeDriver(service, options);
    driver.manage().timeouts().pageLoadTimeout(Duration.ofSeconds(30));
  }

  @AfterAll
  static void stop() throws IOException {
    if (driver != null) {
      driver.quit();
    }
    if (app != null) {
      app.close();
    }
    if (db != null) {
      db.close();
    }
    if (profile != null) {
      try (Stream<Path> files = Files.walk(profile)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  @Test
  void chatPage_answers_thenExplainsQuotaAndRateLimit_andDashboardDrawsCharts()
      throws Exception {
    Assumptions.assumeTrue(skipReason == null, skipReason);
    WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(20));
    driver.get(app.baseUri().toString());
    ask("Does sleep affect memory?");
    WebElement answer = wait.until(ExpectedConditions.visibilityOfElementLocated(
        By.cssSelector("#log .msg.bot.answer")));
    assertThat(answer.getText()).contains("Sleep duration and memory consolidation");
    assertThat(answer.findElements(By.cssSelector(".sources a"))).isNotEmpty();
    wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("quota"), "2 of 3"));

    for (String q : new String[] {"exercise and blood pressure", "diet and cancer"}) {
      int before = driver.findElements(By.cssSelector("#log .msg.bot.answer")).size();
      ask(q);
      wait.until(ExpectedConditions.numberOfElementsToBe(
          By.cssSelector("#log .msg.bot.answer"), before + 1));
    }
    wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("quota"), "0 of 3"));

    ask("one more question");
    wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("notice"),
        "Daily quota used up"));
    ((org.openqa.selenium.JavascriptExecutor) driver).executeScript(
        "window.scrollTo(0, document.body.scrollHeight)");
    screenshot("chat.png");
    ask("and another");   // the fifth chat from this IP: within the IP limit, over the quota
    ask("and a sixth");   // over the per-IP limit of 5 a minute
    wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("notice"),
        "Rate limited — try again in"));
    assertThat(driver.findElement(By.id("notice")).getText()).matches(
        "Rate limited — try again in \\d+ s\\.");

    driver.get(app.baseUri().resolve("/dashboard") + "#admin=" + TestApps.ADMIN);
    wait.until(d -> {
      String polls = d.findElement(By.tagName("body")).getAttribute("data-polls");
      return polls != null && Integer.parseInt(polls) >= 3;
    });
    for (String id : new String[] {"chart-score", "chart-queued", "chart-active", "chart-errors",
        "chart-breakers"}) {
      assertThat(driver.findElement(By.id(id)).getAttribute("data-points")).as(id)
          .isNotNull().isNotEqualTo("0");
    }
    assertThat(driver.findElement(By.id("breakers")).getText()).contains("literature: closed");
    assertThat(driver.findElement(By.id("score-now")).getText()).endsWith("%");
    assertThat(driver.getCurrentUrl()).as("the token leaves the address bar")
        .doesNotContain(TestApps.ADMIN);
    screenshot("dashboard.png");
  }

  @Test
  void chatPage_showsHowLongAQuestionWaits_andTheBusyMessageWhenTheQueueIsFull()
      throws Exception {
    Assumptions.assumeTrue(skipReason == null, skipReason);
    try (ChatApp busy = TestApps.startApp(db)) {
      RequestQueue<String> queue = busy.wiring().queue;
      List<RequestQueue.Permit> held = new ArrayList<>();
      List<CompletableFuture<RequestQueue.Permit>> waiters = new ArrayList<>();
      try {
        // Every slot is taken (two per holder, the per-user cap), so the next chat waits.
        for (int i = 0; i < SluiceWiring.MAX_CONCURRENT; i++) {
          held.add(queue.tryAcquire("holder-" + i / 2, "chat").orElseThrow());
        }
        WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(20));
        driver.get(busy.baseUri().toString());
        ask("Does sleep affect memory?");
        wait.until(d -> queue.stats().queued() == 1);
        WebElement waiting = driver.findElement(By.id("waiting"));
        wait.until(d -> {
          String seconds = waiting.getAttribute("data-seconds");
          return seconds != null && Integer.parseInt(seconds) >= 1;
        });
        assertThat(waiting.isDisplayed()).isTrue();
        assertThat(waiting.getText()).matches("Waiting for an answer… [1-9]\\d* s.*");
        screenshot("chat-waiting.png");

        held.remove(0).close(); // a slot frees: the question leaves the queue and is answered
        wait.until(ExpectedConditions.numberOfElementsToBe(
            By.cssSelector("#log .msg.bot.answer"), 1));
        wait.until(ExpectedConditions.invisibilityOfElementLocated(By.id("waiting")));

        // Full: every slot taken again, and every place in the waiting line.
        held.add(queue.tryAcquire("holder-0", "chat").orElseThrow());
        for (int i = 0; i < SluiceWiring.MAX_QUEUED; i++) {
          waiters.add(queue.acquireAsync("waiter-" + i, "export"));
        }
        assertThat(queue.stats().queued()).isEqualTo(SluiceWiring.MAX_QUEUED);
        ask("exercise and blood pressure");
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("notice"),
            "Busy — please wait"));
        assertThat(driver.findElement(By.id("notice")).getText())
            .matches("Busy — please wait \\d+ s and try again\\.");
        wait.until(ExpectedConditions.invisibilityOfElementLocated(By.id("waiting")));
        screenshot("chat-busy.png");
      } finally {
        for (CompletableFuture<RequestQueue.Permit> w : waiters) {
          w.cancel(false);
          w.thenAccept(RequestQueue.Permit::close);
        }
        held.forEach(RequestQueue.Permit::close);
      }
    }
  }

  private static void ask(String question) {
    WebElement input = driver.findElement(By.id("message"));
    input.clear();
    input.sendKeys(question);
    new WebDriverWait(driver, Duration.ofSeconds(20))
        .until(ExpectedConditions.elementToBeClickable(By.id("send"))).click();
  }

  private static void screenshot(String name) throws IOException {
    String dir = System.getProperty("sluice.screenshots");
    if (dir == null || dir.isBlank()) {
      return;
    }
    Path target = Path.of(dir);
    if (!target.isAbsolute()) {
      // Relative to the repository root (surefire runs in examples/).
      target = Path.of("").toAbsolutePath().getParent().resolve(dir);
    }
    Files.createDirectories(target);
    File shot = ((org.openqa.selenium.TakesScreenshot) driver).getScreenshotAs(OutputType.FILE);
    Files.copy(shot.toPath(), target.resolve(name), StandardCopyOption.REPLACE_EXISTING);
    System.err.println("saved screenshot " + target.resolve(name));
  }

  private static String setting(String name, String fallback) {
    String v = System.getProperty(name, System.getenv(name));
    return v == null || v.isBlank() ? fallback : v;
  }
}
