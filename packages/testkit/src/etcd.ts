// A real etcd for tests: one member or a small static cluster, on 127.0.0.1 only, with its data
// in a new temporary folder, stopped by PID. etcd cannot listen on port 0, so ports are found by
// binding port 0 and closing, and a start that loses a port to someone else is retried.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface EtcdMember {
  readonly name: string;
  /** `127.0.0.1:port`, as the store's `endpoints` take it. */
  readonly endpoint: string;
  readonly pid: number;
  /** Whether the process is still running. */
  readonly running: boolean;
  /** Sends the signal and waits for the process to exit (SIGKILL after 5 s). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts a stopped member again on the same data and ports; resolves once it is healthy. */
  restart(timeoutMs?: number): Promise<void>;
}

export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** Every member's endpoint. */
  readonly endpoints: string[];
  /** The last lines each member logged, for a failing test's message. */
  logs(): string;
  /** Stops every member still running and removes the data folder. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartEtcdOptions {
  /** Members of a static cluster. Default 1. */
  members?: number;
  /** Wait at most this long for every member to report healthy. Default 20 s. */
  timeoutMs?: number;
}

/** Whether an `etcd` binary is on PATH. */
export function hasEtcd(): boolean {
  return spawnSync('etcd', ['--version'], { stdio: 'ignore' }).status === 0;
}

const ATTEMPTS = 3;

export async function startEtcd(opts: StartEtcdOptions = {}): Promise<EtcdCluster> {
  const size = opts.members ?? 1;
  const timeoutMs = opts.timeoutMs ?? 20_000;
  let lastError: unknown;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const cluster = await launch(size);
    try {
      await cluster.healthy(timeoutMs);
      return cluster;
    } catch (err) {
      lastError = err;
      const logs = cluster.logs();
      await cluster.stop();
      // A port taken between our probe and etcd's bind is worth another try; anything else is not.
      if (!/address already in use/i.test(logs)) throw withLogs(err, logs);
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

interface Launched extends EtcdCluster {
  healthy(timeoutMs: number): Promise<void>;
}

async function launch(size: number): Promise<Launched> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-etcd-'));
  const ports = await freePorts(size * 2);
  const specs = Array.from({ length: size }, (_, i) => ({
    name: `m${i}`,
    client: ports[2 * i] ?? 0,
    peer: ports[2 * i + 1] ?? 0,
  }));
  const initialCluster = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peer}`).join(',');
  const token = `weft-test-${process.pid}-${Date.now()}`;
  const members = specs.map((s) => {
    const logFile = join(dir, `${s.name}.log`);
    // Restarting reuses the data folder: etcd ignores the --initial-* flags once it has one.
    const spawnMember = () => {
      const fd = openSync(logFile, 'a');
      const child = spawn(
        'etcd',
        [
          `--name=${s.name}`,
          `--data-dir=${join(dir, s.name)}`,
          `--listen-client-urls=http://127.0.0.1:${s.client}`,
          `--advertise-client-urls=http://127.0.0.1:${s.client}`,
          `--listen-peer-urls=http://127.0.0.1:${s.peer}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${s.peer}`,
          `--initial-cluster=${initialCluster}`,
          `--initial-cluster-state=new`,
          `--initial-cluster-token=${token}`,
          '--logger=zap',
          '--log-outputs=stderr',
        ],
        { stdio: ['ignore', fd, fd] },
      );
      closeSync(fd);
      return child;
    };
    return new Member(s.name, `127.0.0.1:${s.client}`, spawnMember, logFile);
  });
  let stopped = false;
  const cluster: Launched = {
    members,
    endpoints: members.map((m) => m.endpoint),
    logs: () => members.map((m) => m.tail()).join('\n'),
    async healthy(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (const m of members) await m.healthy(deadline);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(members.map((m) => m.stop('SIGTERM')));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}

// Members left running when the test process exits (a crash, a test that forgot to stop them)
// are killed here, so a failed run leaves no etcd behind.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

class Member implements EtcdMember {
  private exited!: Promise<void>;
  private exitedNow = false;
  private child!: ChildProcess;

  constructor(
    readonly name: string,
    readonly endpoint: string,
    private readonly spawnMember: () => ChildProcess,
    private readonly logFile: string,
  ) {
    this.run();
  }

  /** Starts a stopped member again on its data folder and ports; resolves once it is healthy. */
  async restart(timeoutMs = 20_000): Promise<void> {
    if (!this.exitedNow) throw new Error(`etcd member ${this.name} is still running`);
    this.run();
    await this.healthy(Date.now() + timeoutMs);
  }

  private run(): void {
    const child = this.spawnMember();
    this.child = child;
    this.exitedNow = false;
    live.add(child);
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        this.exitedNow = true;
        live.delete(child);
        resolve();
      });
      // A spawn failure (no binary) also ends up here, as an exit that never started.
      child.once('error', () => {
        this.exitedNow = true;
        live.delete(child);
        resolve();
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get running(): boolean {
    return !this.exitedNow;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.exitedNow) return;
    process.kill(this.pid, signal);
    const timer = setTimeout(() => {
      if (!this.exitedNow) process.kill(this.pid, 'SIGKILL');
    }, 5_000);
    await this.exited;
    clearTimeout(timer);
  }

  async healthy(deadline: number): Promise<void> {
    for (;;) {
      if (this.exitedNow) throw new Error(`etcd member ${this.name} exited during start-up`);
      try {
        const res = await fetch(`http://${this.endpoint}/health`, {
          signal: AbortSignal.timeout(1_000),
        });
        const body = (await res.json()) as { health?: string };
        if (body.health === 'true') return;
      } catch {
        // Not listening yet, or no leader yet: both mean "try again shortly".
      }
      if (Date.now() > deadline)
        throw new Error(`etcd member ${this.name} (${this.endpoint}) did not become healthy`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  tail(): string {
    try {
      const lines = readFileSync(this.logFile, 'utf8').trimEnd().split('\n');
      return lines
        .slice(-15)
        .map((l) => `[${this.name}] ${l}`)
        .join('\n');
    } catch {
      return `[${this.name}] (no log)`;
    }
  }
}

/** Distinct free TCP ports on 127.0.0.1, all held at once so that none repeats. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const addr = s.address();
    return typeof addr === 'object' && addr ? addr.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function withLogs(err: unknown, logs: string): Error {
  const e = new Error(`${err instanceof Error ? err.message : String(err)}\netcd log:\n${logs}`);
  e.cause = err;
  return e;
}
