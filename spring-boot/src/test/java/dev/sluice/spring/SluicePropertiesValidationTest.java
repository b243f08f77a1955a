package dev.sluice.spring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.servlet.SluiceFilter;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.context.properties.bind.validation.BindValidationException;
import org.springframework.boot.test.context.assertj.AssertableWebApplicationContext;
import org.springframework.boot.test.context.runner.WebApplicationContextRunner;
import org.springframework.validation.FieldError;
import org.springframework.validation.ObjectError;

/**
 * Start-up with good and bad {@code sluice.*} properties: every bad one fails start-up with an
 * error naming the property.
 */
class SluicePropertiesValidationTest {
  private final WebApplicationContextRunner runner = new WebApplicationContextRunner()
      .withConfiguration(AutoConfigurations.of(SluiceAutoConfiguration.class));

  private static final String[] GOOD_RULE = {
      "sluice.rules[0].name=chat",
      "sluice.rules[0].paths=/api/chat,/api/chat2",
      "sluice.rules[0].methods=POST",
      "sluice.rules[0].per-ip.limit=5",
      "sluice.rules[0].per-ip.period=1m",
  };

  @Test
  void goodProperties_buildTheFilterWithOneRulePerPath() {
    runner.withPropertyValues(GOOD_RULE).run(context -> {
      assertThat(context).hasNotFailed();
      SluiceFilter filter = context.getBean(SluiceFilter.class);
      assertThat(filter.rules()).extracting(r -> r.name())
          .containsExactly("chat /api/chat", "chat /api/chat2");
      assertThat(filter.rules().get(0).perIp()).isSameAs(filter.rules().get(1).perIp());
      assertThat(filter.rules().get(0).matches("POST", "/api/chat")).isTrue();
      assertThat(filter.rules().get(0).matches("GET", "/api/chat")).isFalse();
      SluiceComponents components = context.getBean(SluiceComponents.class);
      assertThat(components.rateLimiters()).containsOnlyKeys("chat");
      assertThat(components.rateLimiters().get("chat").limit()).isEqualTo(5);
      assertThat(components.queue()).isEmpty();
    });
  }

  @Test
  void queueProperties_buildTheQueueWithTheRulesPriorities() {
    runner.withPropertyValues(GOOD_RULE)
        .withPropertyValues("sluice.rules[0].queue-priority=chat",
            "sluice.rules[1].name=export", "sluice.rules[1].paths=/api/export",
            "sluice.rules[1].queue-priority=export",
            "sluice.queue.max-concurrent=20", "sluice.queue.max-concurrent-per-key=2",
            "sluice.queue.max-queued=100", "sluice.queue.timeout=30s")
        .run(context -> {
          assertThat(context).hasNotFailed();
          var queue = context.getBean(SluiceFilter.class).queue();
          assertThat(queue.maxConcurrent()).isEqualTo(20);
          assertThat(queue.maxConcurrentPerKey()).isEqualTo(2);
          assertThat(queue.maxQueued()).isEqualTo(100);
          assertThat(queue.timeout()).hasSeconds(30);
          assertThat(queue.priorities()).containsExactly("chat", "export");
        });
  }

  @Test
  void typoInAValue_failsNamingTheProperty() {
    runner.withPropertyValues(GOOD_RULE)
        .withPropertyValues("sluice.rules[0].per-ip.period=5 minuts")
        .run(context -> assertThat(failure(context))
            .contains("sluice.rules[0].per-ip.period").contains("5 minuts"));
  }

  @Test
  void typoInAName_failsNamingTheProperty() {
    runner.withPropertyValues(GOOD_RULE)
        .withPropertyValues("sluice.rules[0].per-ipp.limit=5")
        .run(context -> assertThat(failure(context)).contains("sluice.rules[0].per-ipp.limit"));
  }

  @Test
  void negativeLimit_failsNamingTheProperty() {
    runner.withPropertyValues(GOOD_RULE)
        .withPropertyValues("sluice.rules[0].per-ip.limit=-5")
        .run(context -> assertThat(failure(context))
            .contains("sluice.rules[0].perIp.limit: must be >= 1 but was -5"));
  }

  @Test
  void negativeQueueCap_failsNamingTheProperty() {
    runner.withPropertyValues("sluice.queue.max-concurrent=-1", "sluice.queue.max-queued=-2")
        .run(context -> assertThat(failure(context))
            .contains("sluice.queue.maxConcurrent: must be >= 1 but was -1")
            .contains("sluice.queue.maxQueued: must be >= 0 but was -2"));
  }

  @Test
  void unknownStoreKind_failsNamingTheProperty() {
    runner.withPropertyValues(GOOD_RULE)
        .withPropertyValues("sluice.store.type=mongo")
        .run(context -> assertThat(failure(context))
            .contains("sluice.store.type").contains("mongo"));
  }

  @Test
  void ruleWithoutPaths_failsNamingTheProperty() {
    runner.withPropertyValues("sluice.rules[0].name=chat",
            "sluice.rules[0].per-ip.limit=5", "sluice.rules[0].per-ip.period=1m")
        .run(context -> assertThat(failure(context))
            .contains("sluice.rules[0].paths: a rule needs at least one path"));
  }

  @Test
  void badPathAndMissingPeriod_failNamingEachProperty() {
    runner.withPropertyValues("sluice.rules[0].name=chat", "sluice.rules[0].paths=api/chat",
            "sluice.rules[0].per-user.limit=5")
        .run(context -> assertThat(failure(context))
            .contains("sluice.rules[0].paths[0]: must start with '/'")
            .contains("sluice.rules[0].perUser.period: a period such as 1m is required"));
  }

  @Test
  void queuePriorityWithoutQueue_failsNamingTheProperty() {
    runner.withPropertyValues(GOOD_RULE)
        .withPropertyValues("sluice.rules[0].queue-priority=chat")
        .run(context -> assertThat(failure(context))
            .contains("sluice.rules[0].queuePriority: rule queues in class 'chat' but no queue"));
  }

  @Test
  void queuePriorityNotDeclared_failsNamingTheProperty() {
    runner.withPropertyValues(GOOD_RULE)
        .withPropertyValues("sluice.rules[0].queue-priority=chat",
            "sluice.queue.max-concurrent=2", "sluice.queue.priorities=high,low")
        .run(context -> assertThat(failure(context))
            .contains("sluice.rules[0].queuePriority: class 'chat' is not one of"));
  }

  @Test
  void duplicateRuleName_failsNamingTheProperty() {
    runner.withPropertyValues(GOOD_RULE)
        .withPropertyValues("sluice.rules[1].name=chat", "sluice.rules[1].paths=/other")
        .run(context -> assertThat(failure(context))
            .contains("sluice.rules[1].name: rule name 'chat' is used twice"));
  }

  @Test
  void postgresStoreWithoutDataSource_failsNamingTheProperty() {
    runner.withPropertyValues(GOOD_RULE)
        .withPropertyValues("sluice.store.type=postgres")
        .run(context -> assertThat(failure(context))
            .contains("sluice.store.type=postgres needs a DataSource bean"));
  }

  @Test
  void redisStoreWithoutUri_failsNamingTheProperty() {
    runner.withPropertyValues(GOOD_RULE)
        .withPropertyValues("sluice.store.type=redis")
        .run(context -> assertThat(failure(context))
            .contains("sluice.store.type=redis needs sluice.store.redis.uri"));
  }

  @Test
  void quotaWithoutGateOrDataSource_failsNamingTheProperty() {
    runner.withPropertyValues(GOOD_RULE)
        .withPropertyValues("sluice.rules[0].quota=chat")
        .run(context -> assertThat(failure(context))
            .contains("sluice.rules[0].quota needs a QuotaGate bean or a DataSource bean"));
  }

  @Test
  void disabled_configuresNothing() {
    runner.withPropertyValues(GOOD_RULE)
        .withPropertyValues("sluice.enabled=false")
        .run(context -> {
          assertThat(context).hasNotFailed();
          assertThat(context).doesNotHaveBean(SluiceFilter.class);
        });
  }

  /**
   * The start-up failure as one text: every message in the cause chain, and each validation
   * error as {@code <property>: <message>}, as Spring Boot's failure report shows them.
   */
  private static String failure(AssertableWebApplicationContext context) {
    assertThat(context).hasFailed();
    List<String> parts = new ArrayList<>();
    for (Throwable t = context.getStartupFailure(); t != null; t = t.getCause()) {
      parts.add(String.valueOf(t.getMessage()));
      if (t instanceof BindValidationException e) {
        for (ObjectError error : e.getValidationErrors()) {
          if (error instanceof FieldError f) {
            parts.add(e.getValidationErrors().getName() + "." + f.getField() + ": "
                + f.getDefaultMessage());
          }
        }
      }
    }
    return String.join("\n", parts);
  }
}
