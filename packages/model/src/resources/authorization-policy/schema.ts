// AuthorizationPolicy, from istio/api security/v1beta1/authorization_policy.proto (the same
// message serves security.istio.io/v1). Protobuf JSON: snake_case names are accepted by
// parse-spec, so `not_principals` reads as `notPrincipals`.
import { z } from 'zod';
import { stringList, workloadSelectorSchema } from '../fields.js';

export const sourceSchema = z.strictObject({
  principals: stringList.optional(),
  notPrincipals: stringList.optional(),
  requestPrincipals: stringList.optional(),
  notRequestPrincipals: stringList.optional(),
  namespaces: stringList.optional(),
  notNamespaces: stringList.optional(),
  serviceAccounts: stringList.optional(),
  notServiceAccounts: stringList.optional(),
  ipBlocks: stringList.optional(),
  notIpBlocks: stringList.optional(),
  remoteIpBlocks: stringList.optional(),
  notRemoteIpBlocks: stringList.optional(),
});
export type AuthorizationSource = z.infer<typeof sourceSchema>;

export const operationSchema = z.strictObject({
  hosts: stringList.optional(),
  notHosts: stringList.optional(),
  ports: stringList.optional(),
  notPorts: stringList.optional(),
  methods: stringList.optional(),
  notMethods: stringList.optional(),
  paths: stringList.optional(),
  notPaths: stringList.optional(),
});
export type AuthorizationOperation = z.infer<typeof operationSchema>;

export const conditionSchema = z.strictObject({
  key: z.string(),
  values: stringList.optional(),
  notValues: stringList.optional(),
});
export type AuthorizationCondition = z.infer<typeof conditionSchema>;

export const ruleSchema = z.strictObject({
  from: z.array(z.strictObject({ source: sourceSchema.optional() })).optional(),
  to: z.array(z.strictObject({ operation: operationSchema.optional() })).optional(),
  when: z.array(conditionSchema).optional(),
});
export type AuthorizationRule = z.infer<typeof ruleSchema>;

/** istio.type.v1beta1.PolicyTargetReference. */
export const policyTargetRefSchema = z.strictObject({
  group: z.string().optional(),
  kind: z.string(),
  name: z.string(),
  namespace: z.string().optional(),
});
export type PolicyTargetRef = z.infer<typeof policyTargetRefSchema>;

export const authorizationActions = ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'] as const;
export type AuthorizationAction = (typeof authorizationActions)[number];

export const authorizationPolicySpecSchema = z.strictObject({
  selector: workloadSelectorSchema.optional(),
  targetRef: policyTargetRefSchema.optional(),
  targetRefs: z.array(policyTargetRefSchema).optional(),
  rules: z.array(ruleSchema).optional(),
  action: z.enum(authorizationActions).optional(),
  provider: z.strictObject({ name: z.string().optional() }).optional(),
});
export type AuthorizationPolicySpec = z.infer<typeof authorizationPolicySpecSchema>;
