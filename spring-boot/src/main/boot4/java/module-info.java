/**
 * Sluice's Spring Boot starter: auto-configuration of the servlet filter, rate limiters, queue,
 * health indicator and actuator endpoint from {@code sluice.*} properties. Only
 * {@code dev.sluice.spring} is API.
 *
 * <p>Spring Boot, Actuator, {@code sluice-jdbc-quota} and {@code sluice-redis} are the
 * application's: they are read statically or as automatic modules (Spring ships no
 * {@code module-info}), and both packages are open to Spring, which builds the beans by
 * reflection.
 */
@SuppressWarnings({"requires-automatic", "requires-transitive-automatic"})
module dev.sluice.spring {
  requires transitive dev.sluice.core;
  requires transitive dev.sluice.servlet;
  requires java.sql;
  requires org.slf4j;
  requires transitive spring.beans;
  requires transitive spring.context;
  requires transitive spring.core;
  requires transitive spring.boot;
  requires transitive spring.boot.autoconfigure;
  requires static transitive spring.boot.actuator;
  requires static transitive spring.boot.actuator.autoconfigure;
  requires static transitive spring.boot.health;
  requires static transitive org.jspecify;
  requires static dev.sluice.jdbc.quota;
  requires static dev.sluice.redis;
  requires static lettuce.core;
  requires static dev.sluice.micrometer;
  requires static micrometer.core;

  exports dev.sluice.spring;

  opens dev.sluice.spring to spring.core, spring.beans, spring.context;
  opens dev.sluice.spring.internal to spring.core, spring.beans, spring.context;
}
