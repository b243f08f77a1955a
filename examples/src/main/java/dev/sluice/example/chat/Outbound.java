package dev.sluice.example.chat;

import java.util.concurrent.Callable;

/** TEMPORARY until core's OutboundGuard lands on main; replaced by it. */
interface Outbound {
  <T> T call(Callable<T> work) throws Exception;
}
