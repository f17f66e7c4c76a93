// The trusted client address (Envoy's term), for `remote.ip` / remoteIpBlocks and for
// x-envoy-external-address. X-Forwarded-For is written by whoever sent the request, so only
// the hops appended by proxies we trust count: Istio's numTrustedProxies, which is Envoy's
// xff_num_trusted_hops.
//
// - An edge proxy (the gateway: Envoy's use_remote_address) with N trusted hops takes the Nth
//   address from the right of the X-Forwarded-For it received; with 0, or fewer than N
//   entries, the connection's peer.
// - An inner proxy (sidecar inbound) trusts the hop the calling proxy appended: the (N+1)th
//   from the right; with no X-Forwarded-For, the peer.

export function trustedClientAddress(
  forwardedFor: string | undefined,
  peer: string,
  trustedHops: number,
  edge: boolean,
): string {
  const n = edge ? trustedHops : trustedHops + 1;
  if (n <= 0 || forwardedFor === undefined || forwardedFor === '') return peer;
  // Walk from the right without splitting the whole (client-controlled, maybe long) header.
  let end = forwardedFor.length;
  for (let i = 1; ; i++) {
    const comma = forwardedFor.lastIndexOf(',', end - 1);
    if (i === n) {
      const entry = forwardedFor.slice(comma + 1, end).trim();
      return entry === '' ? peer : entry;
    }
    if (comma < 0) return peer;
    end = comma;
  }
}
