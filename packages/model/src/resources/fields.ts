// Field schemas shared by several kinds, written from the protobuf types Istio uses. Protobuf
// JSON is the wire format: wrapper types (BoolValue, UInt32Value) are plain values, 64-bit
// integers may be quoted, durations are strings.
import { z } from 'zod';
import { parseDurationMs } from './duration.js';

export const duration = z.string().refine((s) => parseDurationMs(s) !== undefined, {
  error: 'invalid duration: expected a number with a unit, e.g. 1s, 0.5s, 100ms, 3m, 24h',
});

export const int32 = z
  .number()
  .int()
  .min(-(2 ** 31))
  .max(2 ** 31 - 1);
export const uint32 = z
  .number()
  .int()
  .min(0)
  .max(2 ** 32 - 1);
export const uint64 = z.union([
  z.number().int().min(0),
  z.string().regex(/^\d+$/, 'expected an unsigned integer'),
]);
export const portNumber = z
  .number()
  .int()
  .min(1, 'port must be between 1 and 65535')
  .max(65535, 'port must be between 1 and 65535');

export const stringMap = z.record(z.string(), z.string());
export const stringList = z.array(z.string());

/** Istio's StringMatch, a oneof; validate checks that at most one member is set. */
export const stringMatchSchema = z.strictObject({
  exact: z.string().optional(),
  prefix: z.string().optional(),
  regex: z.string().optional(),
});
export type IstioStringMatch = z.infer<typeof stringMatchSchema>;

export const percentSchema = z.strictObject({
  value: z
    .number()
    .min(0, 'percentage must be 0-100')
    .max(100, 'percentage must be 0-100')
    .optional(),
});
export type Percent = z.infer<typeof percentSchema>;

export const portSelectorSchema = z.strictObject({ number: portNumber.optional() });
export type PortSelector = z.infer<typeof portSelectorSchema>;

export const workloadSelectorSchema = z.strictObject({ matchLabels: stringMap.optional() });
export type WorkloadSelector = z.infer<typeof workloadSelectorSchema>;
