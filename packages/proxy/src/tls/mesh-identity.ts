// A proxy's mesh identity: its workload certificate, asked of the control plane's CA with the
// proxy's credentials, renewed before it expires. Shared by sidecars and gateways.

import type { LogFn } from '../telemetry/log.js';
import { parseControlUrls } from '../client/stream.js';
import { controlRequest, type ControlCredentials, type ControlResponse } from './control-client.js';
import {
  startWorkloadCertificate,
  type IssuedCertificate,
  type WorkloadCertificateSource,
} from './workload-certificate.js';

export interface MeshIdentityOptions {
  control: string;
  credentials?: ControlCredentials | undefined;
  namespace: string;
  service: string;
  log?: LogFn;
}

export function startMeshIdentity(opts: MeshIdentityOptions): WorkloadCertificateSource {
  const roots = parseControlUrls(opts.control);
  return startWorkloadCertificate({
    ...(opts.log !== undefined ? { log: opts.log } : {}),
    async issue(csr) {
      const body = { csr, namespace: opts.namespace, service: opts.service };
      // Any replica's CA signs with the same root (it lives in the store): the first that answers.
      let r: ControlResponse | undefined;
      for (const [i, root] of roots.entries()) {
        try {
          r = await controlRequest(root, opts.credentials, 'POST', '/v1/certificates', body);
          break;
        } catch (err) {
          if (i === roots.length - 1) throw err;
        }
      }
      if (r === undefined) throw new Error('no control plane to ask');
      if (r.status !== 201) {
        const e = (r.body as { error?: { code?: string; message?: string } } | undefined)?.error;
        throw new Error(
          `the CA refused (${r.status} ${e?.code ?? ''}): ${e?.message ?? 'no reason given'}`,
        );
      }
      return r.body as IssuedCertificate;
    },
  });
}
