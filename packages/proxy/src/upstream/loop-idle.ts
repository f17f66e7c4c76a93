// What a try's latency sample for the load balancer measures. The wall-clock time from send to
// response headers includes every moment this process's event loop was busy or stalled (a GC
// pause, a long callback, a CPU another process holds): a response that arrived then waited in
// its socket. A stall lengthens every request in flight at once, and peak-EWMA keeps the peak
// for seconds, so on a busy machine a 2 ms instance looked like a 10-15 ms one and a four times
// slower instance like an equal (docs/performance.md). The time the loop spent waiting for I/O
// while the request was out (libuv's idle time) leaves the proxy's own stalls out: it is a lower
// bound of the upstream's latency, scaled down alike for every endpoint when the proxy is busy,
// which keeps the comparisons the balancer makes.

import { performance } from 'node:perf_hooks';

/** The event loop's total idle time so far (ms, sub-millisecond precision). */
export function loopIdleMs(): number {
  return performance.nodeTiming.idleTime;
}
