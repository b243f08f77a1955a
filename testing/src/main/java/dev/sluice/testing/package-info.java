/**
 * Test support for Sluice: {@link dev.sluice.testing.ManualClock} and
 * {@link dev.sluice.testing.ManualScheduler} make time pass by hand instead of by sleeping,
 * {@link dev.sluice.testing.TestPostgres} finds or starts a real PostgreSQL server and hands out
 * fresh databases, and {@link dev.sluice.testing.Concurrently} races threads from one barrier with
 * bounded waits.
 */
package dev.sluice.testing;
