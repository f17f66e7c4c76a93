// ServiceEntry, from istio/api networking/v1alpha3/service_entry.proto (and its endpoints,
// WorkloadEntry, from workload_entry.proto).
import { z } from 'zod';
import { portNumber, stringList, stringMap, uint32, workloadSelectorSchema } from '../fields.js';

export const servicePortSchema = z.strictObject({
  number: portNumber,
  protocol: z.string().optional(),
  name: z.string(),
  targetPort: uint32.optional(),
});
export type ServicePort = z.infer<typeof servicePortSchema>;

export const workloadEntrySchema = z.strictObject({
  address: z.string().optional(),
  ports: z.record(z.string(), uint32).optional(),
  labels: stringMap.optional(),
  network: z.string().optional(),
  locality: z.string().optional(),
  weight: uint32.optional(),
  serviceAccount: z.string().optional(),
});
export type WorkloadEntry = z.infer<typeof workloadEntrySchema>;

export const serviceEntrySpecSchema = z.strictObject({
  hosts: stringList,
  addresses: stringList.optional(),
  ports: z.array(servicePortSchema).optional(),
  location: z.enum(['MESH_EXTERNAL', 'MESH_INTERNAL']).optional(),
  resolution: z.enum(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN']).optional(),
  endpoints: z.array(workloadEntrySchema).optional(),
  workloadSelector: workloadSelectorSchema.optional(),
  exportTo: stringList.optional(),
  subjectAltNames: stringList.optional(),
});
export type ServiceEntrySpec = z.infer<typeof serviceEntrySpecSchema>;
