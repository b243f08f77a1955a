/**
 * A shared {@link dev.sluice.RateLimitStore} in Redis: {@link dev.sluice.redis.RedisRateLimitStore}.
 */
package dev.sluice.redis;
