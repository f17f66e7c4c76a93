import type { GoldenSignals, NodeHealth } from '@weft/model';

export const rps = (s: GoldenSignals) => (s.rps >= 10 ? s.rps.toFixed(0) : s.rps.toFixed(2));
export const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(1)}%`);
export const ms = (v: number | null) =>
  v === null ? '–' : v < 10 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`;

/** Colours readable on white (WCAG AA for text) and told apart by a word too, not hue alone. */
export const HEALTH_COLOUR: Record<NodeHealth, string> = {
  healthy: '#1a7f37',
  degraded: '#9a6700',
  unhealthy: '#cf222e',
  idle: '#6e7781',
};

export function healthBadge(health: NodeHealth): HTMLElement {
  const el = document.createElement('span');
  el.className = `badge ${health}`;
  el.textContent = health;
  return el;
}
