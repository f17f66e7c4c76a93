// The app as the sidecar's child (`weft sidecar ... -- node app.js`): started with its port
// and the sidecar's outbound address in its environment, its stdout and stderr passed through,
// and stopped the way a container runtime stops a container: SIGTERM, then SIGKILL once the
// grace period is over. If the sidecar itself exits, the app is killed with it (a sidecar
// SIGKILLed cannot do that: run both in one process group and signal the group).

import { spawn, type ChildProcess } from 'node:child_process';

export interface AppProcessOptions {
  command: string[];
  env: Record<string, string>;
}

export interface AppExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface AppProcess {
  pid: number;
  /** Resolves when the app has exited, for whatever reason. */
  exited: Promise<AppExit>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the app is gone. */
  stop(graceMs: number): Promise<AppExit>;
}

export function startApp(o: AppProcessOptions): AppProcess {
  const [cmd, ...args] = o.command;
  if (!cmd) throw new Error('no app command after --');
  const child: ChildProcess = spawn(cmd, args, {
    env: { ...process.env, ...o.env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<AppExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    // spawn failures (no such command) come as 'error' with no 'exit'.
    child.once('error', (err) => {
      process.stderr.write(`weft sidecar: cannot start the app (${cmd}): ${err.message}\n`);
      resolve({ code: 127, signal: null });
    });
  });
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const killOnExit = () => {
    if (!gone()) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  void exited.then(() => process.removeListener('exit', killOnExit));
  return {
    pid: child.pid ?? 0,
    exited,
    async stop(graceMs) {
      if (gone() || child.pid === undefined) return exited;
      const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.kill('SIGTERM');
      const e = await exited;
      clearTimeout(force);
      return e;
    },
  };
}
