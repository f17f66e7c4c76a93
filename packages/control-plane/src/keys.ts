// Where things live in the store. One prefix per kind of data, so a watch on a prefix sees
// exactly one kind and the etcd backend can range cheaply.

export const PREFIX = '/weft/';
export const CONFIG_PREFIX = '/weft/config/';
export const INSTANCE_PREFIX = '/weft/instances/';
/** DNS answers for DNS ServiceEntries, written by the elected control plane. */
export const DNS_PREFIX = '/weft/dns/';

export function configKey(kind: string, namespace: string, name: string): string {
  return `${CONFIG_PREFIX}${kind}/${namespace}/${name}`;
}

/** Instance ids are unique in the mesh, so heartbeats find their record with one get. */
export function instanceKey(id: string): string {
  return `${INSTANCE_PREFIX}${id}`;
}

/** The CA root and the API tokens; translate never reads these. */
export const SECURITY_PREFIX = '/weft/security/';
