// `weft ca create-root DIR`: a new mesh root, made with the control plane's own CA code, for a
// root the operator keeps (`weft control --ca-cert/--ca-key`) and for rotating the root through
// a trust bundle (`--ca-trust`; docs/security.md "Rotating the root"). The key is written
// readable by its owner only, and nothing existing is overwritten.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export async function createRootCommand(
  dir: string,
  trustDomain: string,
  print: (line: string) => void,
): Promise<number> {
  const { createMeshRoot } = await import('@weft/control-plane');
  const root = await createMeshRoot(trustDomain, Date.now());
  mkdirSync(dir, { recursive: true });
  const certFile = join(dir, 'root-cert.pem');
  const keyFile = join(dir, 'root-key.pem');
  const existing = [certFile, keyFile].filter((f) => existsSync(f));
  if (existing.length > 0) {
    print(`weft ca create-root: ${existing.join(', ')} already there; nothing written`);
    return 1;
  }
  // 'wx' all the same: never replace a root that may still be in use.
  writeFileSync(keyFile, root.privateKey, { flag: 'wx', mode: 0o600 });
  writeFileSync(certFile, root.certificate, { flag: 'wx' });
  print(`wrote ${certFile} and ${keyFile} (trust domain ${trustDomain})`);
  return 0;
}
