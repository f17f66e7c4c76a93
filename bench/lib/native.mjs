// nginx and HAProxy from Debian, configured in a temporary folder: as the backend (nginx) and as
// peers. One worker / one thread each, keep-alive on both sides, no logging on the hot path.

import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BODY } from './body.mjs';
import { commandExists, freePort, start, stop, waitForPort } from './proc.mjs';

export const hasNginx = () => commandExists('nginx');
export const hasHaproxy = () => commandExists('haproxy');

/** Common nginx preamble: everything the master writes goes under `dir`, not /var. */
function nginxMain(dir, body) {
  return `# written by bench/lib/native.mjs
worker_processes 1;
master_process on;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  # wrk's connections live for the whole run: never close them on a request count.
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  default_type text/plain;
${body}
}
`;
}

async function startNginx(name, dir, conf, port, cpu) {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  // -e: the error log before the config is read (nginx >= 1.19.5), so nothing goes to /var/log.
  const proc = start(name, 'nginx', ['-p', dir, '-c', file, '-e', join(dir, 'startup-error.log')], {
    cpu,
  });
  await ready(proc, port);
  return proc;
}

/** nginx answering the 1 KB body itself (`return`), with no file I/O: the cheapest backend. */
export async function startNginxBackend({ tmp, cpu }) {
  const port = await freePort();
  const dir = join(tmp, 'nginx-backend');
  const conf = nginxMain(
    dir,
    `  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / { return 200 "${BODY}"; }
  }`,
  );
  const proc = await startNginx('nginx-backend', dir, conf, port, cpu);
  return { proc, port };
}

/** nginx as a reverse proxy with a keep-alive upstream pool. */
export async function startNginxProxy({ tmp, cpu, upstreamPort }) {
  const port = await freePort();
  const dir = join(tmp, 'nginx-proxy');
  const conf = nginxMain(
    dir,
    `  upstream backend {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://backend;
      # HTTP/1.1 and no "Connection: close" are what make the upstream pool keep-alive.
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }`,
  );
  const proc = await startNginx('nginx', dir, conf, port, cpu);
  return { proc, port };
}

/** HAProxy, one thread, reusing idle server connections across client connections. */
export async function startHaproxy({ tmp, cpu, upstreamPort }) {
  const port = await freePort();
  const dir = join(tmp, 'haproxy');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(
    file,
    `# written by bench/lib/native.mjs
global
  nbthread 1
  maxconn 4000

defaults
  mode http
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  timeout http-keep-alive 120s
  option http-keep-alive
  http-reuse always

frontend fe
  bind 127.0.0.1:${port}
  default_backend be

backend be
  server s1 127.0.0.1:${upstreamPort} maxconn 1000
`,
  );
  // -db: stay in the foreground (no daemon, no master-worker), so the PID is HAProxy's own.
  const proc = start('haproxy', 'haproxy', ['-f', file, '-db'], { cpu });
  await ready(proc, port);
  return { proc, port };
}

async function ready(proc, port) {
  try {
    await waitForPort(proc, port);
  } catch (err) {
    await stop(proc);
    throw err;
  }
}
