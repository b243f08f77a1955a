/**
 * Atomic per-subject quotas and a shared rate-limit store on PostgreSQL.
 */
package dev.sluice.quota;
