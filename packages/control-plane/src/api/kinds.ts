// The names a person may type for a kind (`vs`, `virtualservices`, `VirtualService`) map to
// the canonical kind, as kubectl's short names do.

export const KINDS = [
  'VirtualService',
  'DestinationRule',
  'Gateway',
  'ServiceEntry',
  'PeerAuthentication',
] as const;
export type KindName = (typeof KINDS)[number];

const ALIASES: Record<string, KindName> = {};
for (const [kind, short] of [
  ['VirtualService', 'vs'],
  ['DestinationRule', 'dr'],
  ['Gateway', 'gw'],
  ['ServiceEntry', 'se'],
  ['PeerAuthentication', 'pa'],
] as const) {
  const lower = kind.toLowerCase();
  ALIASES[lower] = kind;
  ALIASES[`${lower}s`] = kind;
  ALIASES[short] = kind;
}

export function canonicalKind(name: string): KindName | undefined {
  return ALIASES[name.toLowerCase()];
}
