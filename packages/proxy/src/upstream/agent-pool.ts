// One keep-alive http.Agent per endpoint (`address:port`), shared by every route table, so a
// snapshot swap does not drop warm connections. Agents of endpoints that left the snapshot
// are destroyed after a grace period, long enough for in-flight requests on the old table.

import { Agent, type AgentOptions } from 'node:http';

export interface AgentPoolOptions {
  /** Per endpoint. Istio's default pool is effectively unbounded; this bounds a runaway. */
  maxSockets?: number;
  maxFreeSockets?: number;
  /** Idle keep-alive sockets close after this (lowered by the server's Keep-Alive hint). */
  freeSocketTimeoutMs?: number;
  /** How long an endpoint may be absent from the snapshot before its agent is destroyed. */
  goneGraceMs?: number;
  /** Makes each endpoint's agent (tls/mesh-agent.ts: mutual TLS); default a keep-alive http.Agent. */
  createAgent?: (options: AgentOptions) => Agent;
}

export interface AgentPool {
  /**
   * The endpoint's agent. A cluster whose DestinationRule sets an idle timeout
   * (connectionPool.http.idleTimeout or tcp.idleTimeout) gets agents of its own with it.
   */
  get(endpoint: { key: string }, idleTimeoutMs?: number): Agent;
  /** Marks agents whose key is not in `keys` as gone and destroys those gone long enough. */
  retain(keys: ReadonlySet<string>, now: number): void;
  size(): number;
  /** Sockets in use and idle across every endpoint's agent (read by metrics when scraped). */
  stats(): { active: number; idle: number };
  destroy(): void;
}

interface Entry {
  agent: Agent;
  /** The endpoint's `address:port`, what retain() is given. */
  endpoint: string;
  goneSince: number;
}

export function createAgentPool(opts: AgentPoolOptions = {}): AgentPool {
  const agentOptions = {
    keepAlive: true,
    maxSockets: opts.maxSockets ?? 1024,
    maxFreeSockets: opts.maxFreeSockets ?? 256,
    timeout: opts.freeSocketTimeoutMs ?? 60_000,
    // The most recently used socket is the least likely to have been closed by the server.
    scheduling: 'lifo' as const,
  };
  const goneGraceMs = opts.goneGraceMs ?? 60_000;
  const createAgent = opts.createAgent ?? ((o: AgentOptions) => new Agent(o));
  const entries = new Map<string, Entry>();
  return {
    get(endpoint, idleTimeoutMs) {
      const key = idleTimeoutMs === undefined ? endpoint.key : `${endpoint.key}|${idleTimeoutMs}`;
      const hit = entries.get(key);
      if (hit !== undefined) return hit.agent;
      const options =
        idleTimeoutMs === undefined ? agentOptions : { ...agentOptions, timeout: idleTimeoutMs };
      const entry: Entry = { agent: createAgent(options), endpoint: endpoint.key, goneSince: -1 };
      entries.set(key, entry);
      return entry.agent;
    },
    retain(keys, now) {
      for (const [key, e] of entries) {
        if (keys.has(e.endpoint)) e.goneSince = -1;
        else if (e.goneSince < 0) e.goneSince = now;
        else if (now - e.goneSince >= goneGraceMs) {
          e.agent.destroy();
          entries.delete(key);
        }
      }
    },
    size: () => entries.size,
    stats() {
      let active = 0;
      let idle = 0;
      for (const { agent } of entries.values()) {
        for (const list of Object.values(agent.sockets)) active += list?.length ?? 0;
        for (const list of Object.values(agent.freeSockets)) idle += list?.length ?? 0;
      }
      return { active, idle };
    },
    destroy() {
      for (const e of entries.values()) e.agent.destroy();
      entries.clear();
    },
  };
}
