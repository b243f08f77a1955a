package dev.sluice.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ConcurrentlyTest {

  @Test
  void call_runsEveryIndexOnItsOwnThread_andReturnsResultsInIndexOrder() throws Exception {
    Set<String> threads = ConcurrentHashMap.newKeySet();
    var results = Concurrently.call(5, i -> {
      threads.add(Thread.currentThread().getName());
      return i * 10;
    });
    assertThat(results).containsExactly(0, 10, 20, 30, 40);
    assertThat(threads).containsExactlyInAnyOrder(
        "concurrently-0", "concurrently-1", "concurrently-2", "concurrently-3", "concurrently-4");
  }

  @Test
  void run_tasksRunAtTheSameTime_eachCanWaitForAllTheOthers() throws Exception {
    AtomicInteger started = new AtomicInteger();
    CountDownLatch allStarted = new CountDownLatch(4);
    Concurrently.run(4, i -> {
      started.incrementAndGet();
      allStarted.countDown();
      // Run one after another, the first task would wait here in vain.
      assertThat(allStarted.await(5, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    });
    assertThat(started.get()).isEqualTo(4);
  }

  @Test
  void failures_lowestIndexIsThrown_othersSuppressed() {
    assertThatThrownBy(() -> Concurrently.run(3, i -> {
      if (i > 0) {
        throw new IllegalStateException("thread " + i);
      }
    })).isInstanceOf(IllegalStateException.class).hasMessage("thread 1")
        .satisfies(e -> assertThat(e.getSuppressed()).singleElement()
            .extracting(Throwable::getMessage).isEqualTo("thread 2"));
  }

  @Test
  void assertionFailureInAThread_isThrownAsItIs() {
    assertThatThrownBy(() -> Concurrently.run(2, i -> assertThat(i).isEqualTo(0)))
        .isInstanceOf(AssertionError.class).hasMessageContaining("expected: 0");
  }

  @Test
  void checkedFailure_isWrappedNamingTheThread() {
    assertThatThrownBy(() -> Concurrently.run(2, i -> {
      if (i == 1) {
        throw new IOException("disk");
      }
    })).isInstanceOf(AssertionError.class)
        .hasMessage("thread 1 of 2 threw java.io.IOException: disk")
        .hasCauseInstanceOf(IOException.class);
  }

  @Test
  void aThreadStillRunningAtTheDeadline_failsTheCall_withItsStack() {
    CountDownLatch never = new CountDownLatch(1);
    assertThatThrownBy(() -> Concurrently.run(2, Duration.ofSeconds(1), i -> {
      if (i == 1) {
        never.await();
      }
    })).isInstanceOf(AssertionError.class)
        .hasMessage("1 of 2 threads still running after PT1S: [concurrently-1]")
        .satisfies(e -> assertThat(e.getSuppressed()).singleElement()
            .extracting(Throwable::getMessage).isEqualTo("concurrently-1 was here"));
  }

  @Test
  void badArguments_areRefusedNamingThem() {
    assertThatThrownBy(() -> Concurrently.run(0, i -> { }))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("threads must be >= 1 but was 0");
    assertThatThrownBy(() -> Concurrently.run(1, Duration.ZERO, i -> { }))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("timeout must be positive but was PT0S");
  }
}
