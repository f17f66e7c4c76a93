// A clock that moves only when a test says so. Pure cores take `now` from it; code with
// timers takes `setTimer` as well, so a test can fire them by advancing time.

export interface FakeClock {
  now(): number;
  advance(ms: number): void;
  setTimer(fn: () => void, ms: number): { cancel(): void };
}

export function createFakeClock(start = 1_700_000_000_000): FakeClock {
  let t = start;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => t,
    advance(ms: number) {
      const until = t + ms;
      for (;;) {
        let next: [number, { at: number; fn: () => void }] | undefined;
        for (const e of timers) if (e[1].at <= until && (!next || e[1].at < next[1].at)) next = e;
        if (!next) break;
        timers.delete(next[0]);
        t = Math.max(t, next[1].at);
        next[1].fn();
      }
      t = until;
    },
    setTimer(fn, ms) {
      const id = ++seq;
      timers.set(id, { at: t + ms, fn });
      return { cancel: () => void timers.delete(id) };
    },
  };
}
