// A core-speed probe, run pinned to one core for the whole benchmark (one per core).
//
// Why: this machine is a VM whose host is shared. At times the same work costs up to ~1.8x the
// CPU time it normally does (a busy SMT sibling or stolen time that the guest bills to whatever
// was running), and nothing inside the VM shows it. That would make a proxy look slower.
// So every 100 ms this process does a small fixed unit of mixed work (allocation, JSON, Map,
// Buffer: like a proxy's, not a register-only loop, which barely notices) and prints the CPU
// time it took. The orchestrator compares the units measured during a phase with the fastest
// units seen in the run: "core speed" 1.00 = normal, 0.60 = the core gave 60% of its usual work.
// Cost: ~1 ms of CPU every 100 ms (about 1% of the core).
//
// Output: one line per unit, "<monotonic ms> <cpu µs>".

const obj = {
  method: 'GET',
  path: '/api/v1/items?id=42',
  headers: { host: 'bench', accept: '*/*' },
  n: [1, 2, 3],
};
const ITER = Number(process.argv[2] ?? 600);
const EVERY_MS = Number(process.argv[3] ?? 100);

function unit() {
  let s = 0;
  const m = new Map();
  for (let i = 0; i < ITER; i++) {
    const j = JSON.stringify(obj);
    const o = JSON.parse(j);
    m.set('k' + i, o);
    s += Buffer.byteLength(j) + o.n.length;
  }
  return s + m.size;
}

// Warm the JIT so the first samples are not slow for our own reasons.
for (let i = 0; i < 50; i++) unit();

// The orchestrator closing our stdout means the run is over.
process.stdout.on('error', () => process.exit(0));

let sink = 0;
setInterval(() => {
  const c0 = process.cpuUsage();
  sink ^= unit();
  const c = process.cpuUsage(c0);
  const t = Number(process.hrtime.bigint() / 1000n) / 1000;
  process.stdout.write(`${t.toFixed(1)} ${c.user + c.system}\n`);
}, EVERY_MS);
process.on('exit', () => sink);
