// Istio resolves a short service name against the namespace of the resource that uses it:
// `reviews` in namespace `default` is `reviews.default.svc.cluster.local`.

export const CLUSTER_DOMAIN = 'svc.cluster.local';
export const DEFAULT_NAMESPACE = 'default';

/** Expands a host as Istio does. Wildcards, IPs and names with a dot past the namespace stay. */
export function toFqdn(host: string, namespace: string = DEFAULT_NAMESPACE): string {
  const h = host.toLowerCase();
  if (h === '*' || h.startsWith('*.')) return h;
  if (!h.includes('.')) return `${h}.${namespace}.${CLUSTER_DOMAIN}`;
  const parts = h.split('.');
  if (parts.length === 2) return `${h}.${CLUSTER_DOMAIN}`; // name.namespace
  if (parts.length === 3 && parts[2] === 'svc') return `${h}.cluster.local`;
  return h;
}

/** Every Host header value that names this FQDN inside the mesh (for domain tables). */
export function hostAliases(fqdn: string): string[] {
  const suffix = `.${CLUSTER_DOMAIN}`;
  if (!fqdn.endsWith(suffix)) return [fqdn];
  const base = fqdn.slice(0, -suffix.length); // name.namespace
  const [name, namespace] = base.split('.');
  const out = [fqdn, `${base}.svc`, base];
  if (name && namespace) out.push(name);
  return out;
}

/** The service name part of an FQDN in the cluster domain. */
export function serviceOf(fqdn: string): { name: string; namespace: string } | undefined {
  const suffix = `.${CLUSTER_DOMAIN}`;
  if (!fqdn.endsWith(suffix)) return undefined;
  const [name, namespace] = fqdn.slice(0, -suffix.length).split('.');
  if (!name || !namespace) return undefined;
  return { name, namespace };
}

/** Istio's root namespace: policies there (without a selector) apply to the whole mesh. */
export const ROOT_NAMESPACE = 'istio-system';
