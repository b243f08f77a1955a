package dev.sluice.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ListenersTest {

  @Test
  void empty_isOneSharedEmptyArray_andAddKeepsOrder() {
    Listeners<Object> a = new Listeners<>("a");
    Listeners<Object> b = new Listeners<>("b");
    assertThat(a.array()).isEmpty();
    assertThat(a.array()).isSameAs(b.array()); // no allocation per primitive or per read
    Object first = new Object();
    Object second = new Object();
    a.add(first);
    Object[] before = a.array();
    a.add(second);
    assertThat(a.array()).containsExactly(first, second);
    assertThat(before).containsExactly(first); // a snapshot is never changed by a later add
    assertThatThrownBy(() -> a.add(null)).isInstanceOf(NullPointerException.class)
        .hasMessage("listener");
  }

  @Test
  void failed_isWarnedOncePerListener_thenDebug() {
    Listeners<Object> set = new Listeners<>("rate limiter 'chat'");
    Object broken = new Object();
    Object other = new Object();
    RuntimeException bug = new IllegalStateException("bug");
    assertThat(set.failed(broken, "onDecision", bug)).isTrue();
    assertThat(set.failed(broken, "onDecision", bug)).isFalse();
    assertThat(set.failed(broken, "onStoreFailure", bug)).isFalse();
    assertThat(set.failed(other, "onDecision", bug)).isTrue();
  }
}
