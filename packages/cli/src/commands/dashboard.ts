// `weft dashboard`: where the dashboard is (the control plane serves it), opened in a browser
// when this machine has one to show.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Api } from '../api-client.js';

/** The built web app, from the @weft/dashboard package (`npm run build` makes it). */
export function dashboardDir(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('@weft/dashboard/package.json');
    return join(dirname(pkg), 'dist');
  } catch {
    return undefined;
  }
}

/** The command that opens a URL in the desktop's browser, or none on a headless machine. */
function opener(): string | undefined {
  if (process.platform === 'darwin') return 'open';
  if (process.platform === 'win32') return 'explorer';
  return process.env.DISPLAY || process.env.WAYLAND_DISPLAY ? 'xdg-open' : undefined;
}

export async function dashboardCommand(
  api: Api,
  opts: { open: boolean },
  say: (line: string) => void,
): Promise<number> {
  // Asking for the graph proves the control plane is there and serves the dashboard.
  await api.request('GET', '/v1/dashboard/graph');
  const url = `${api.base}/dashboard/`;
  say(url);
  const cmd = opts.open ? opener() : undefined;
  if (cmd !== undefined) {
    const child = spawn(cmd, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => say(`(could not start ${cmd}; open the URL yourself)`));
    child.unref();
  }
  return 0;
}
