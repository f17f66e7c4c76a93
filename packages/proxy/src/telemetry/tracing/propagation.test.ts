import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '@weft/testkit';
import {
  decideSampled,
  emptyRawTraceHeaders,
  extractContext,
  injectContext,
  parseB3Multi,
  parseB3Single,
  parseTraceparent,
  type RawTraceHeaders,
} from './propagation.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

function raw(h: Partial<RawTraceHeaders>): RawTraceHeaders {
  return { ...emptyRawTraceHeaders(), ...h };
}

describe('parseTraceparent', () => {
  it('reads a valid version 00 header', () => {
    assert.deepEqual(parseTraceparent(`00-${TRACE}-${SPAN}-01`), {
      traceId: TRACE,
      spanId: SPAN,
      flags: 1,
    });
    assert.equal(parseTraceparent(`00-${TRACE}-${SPAN}-00`)?.flags, 0);
  });

  it('refuses what W3C calls invalid', () => {
    const bad = [
      '',
      'garbage',
      `00-${TRACE}-${SPAN}-1`, // short flags
      `00-${TRACE.toUpperCase()}-${SPAN}-01`, // upper case
      `00-${'0'.repeat(32)}-${SPAN}-01`, // zero trace id
      `00-${TRACE}-${'0'.repeat(16)}-01`, // zero span id
      `ff-${TRACE}-${SPAN}-01`, // forbidden version
      `00-${TRACE}-${SPAN}-01-extra`, // version 00 has exactly four fields
      `00_${TRACE}_${SPAN}_01`,
      `00-${TRACE.slice(0, 31)}g-${SPAN}-01`,
    ];
    for (const v of bad) assert.equal(parseTraceparent(v), undefined, v);
  });

  it('reads a later version by its known prefix', () => {
    assert.equal(parseTraceparent(`01-${TRACE}-${SPAN}-01-what-comes-next`)?.traceId, TRACE);
  });
});

describe('parseB3Single', () => {
  it('reads ids, sampling state and parent', () => {
    assert.deepEqual(parseB3Single(`${TRACE}-${SPAN}-1-${'a'.repeat(16)}`), {
      traceId: TRACE,
      spanId: SPAN,
      sampled: true,
      traceState: undefined,
      format: 'b3',
    });
    assert.equal((parseB3Single(`${TRACE}-${SPAN}-0`) as { sampled: boolean }).sampled, false);
    assert.equal((parseB3Single(`${TRACE}-${SPAN}-d`) as { sampled: boolean }).sampled, true);
    assert.equal((parseB3Single(`${TRACE}-${SPAN}`) as { sampled?: boolean }).sampled, undefined);
  });

  it('pads a 64-bit trace id to 128 bits', () => {
    assert.equal(
      parseB3Single(`a3ce929d0e0e4736-${SPAN}-1`)?.traceId,
      `${'0'.repeat(16)}a3ce929d0e0e4736`,
    );
  });

  it('reads a decision without ids', () => {
    assert.deepEqual(parseB3Single('0'), { traceId: undefined, sampled: false });
    assert.deepEqual(parseB3Single('d'), { traceId: undefined, sampled: true });
  });

  it('refuses malformed values', () => {
    for (const v of ['x', `${TRACE}`, `${TRACE}-short`, `${TRACE}-${SPAN}-7`, `zz-${SPAN}-1`])
      assert.equal(parseB3Single(v), undefined, v);
  });
});

describe('parseB3Multi', () => {
  it('reads the x-b3-* headers, debug meaning sampled', () => {
    assert.deepEqual(parseB3Multi(TRACE, SPAN, '1', undefined), {
      traceId: TRACE,
      spanId: SPAN,
      sampled: true,
      traceState: undefined,
      format: 'b3multi',
    });
    assert.equal(parseB3Multi(TRACE, SPAN, 'false', undefined)?.sampled, false);
    assert.equal(parseB3Multi(TRACE, SPAN, '0', '1')?.sampled, true);
    assert.equal(parseB3Multi(TRACE, SPAN, undefined, undefined)?.sampled, undefined);
  });

  it('keeps only the decision when the ids are bad', () => {
    assert.deepEqual(parseB3Multi('nope', SPAN, '1', undefined), {
      traceId: undefined,
      sampled: true,
    });
    assert.equal(parseB3Multi('nope', SPAN, undefined, undefined), undefined);
  });
});

describe('extractContext', () => {
  it('prefers a valid traceparent, and keeps its tracestate', () => {
    const c = extractContext(
      raw({
        traceparent: `00-${TRACE}-${SPAN}-01`,
        tracestate: 'congo=t61rcWkgMzE',
        b3: `${'1'.repeat(32)}-${'2'.repeat(16)}-0`,
      }),
    );
    assert.deepEqual(c, {
      traceId: TRACE,
      spanId: SPAN,
      sampled: true,
      traceState: 'congo=t61rcWkgMzE',
      format: 'w3c',
    });
  });

  it('falls back to B3 when traceparent is malformed, dropping tracestate', () => {
    const c = extractContext(
      raw({
        traceparent: 'not-a-traceparent',
        tracestate: 'congo=t61rcWkgMzE',
        b3TraceId: TRACE,
        b3SpanId: SPAN,
        b3Sampled: '1',
      }),
    );
    assert.equal(c?.traceId, TRACE);
    assert.equal((c as { format: string }).format, 'b3multi');
    assert.equal((c as { traceState?: string }).traceState, undefined);
  });

  it('has nothing for a malformed traceparent alone', () => {
    assert.equal(extractContext(raw({ traceparent: '00-xyz' })), undefined);
  });

  it('drops a tracestate that is not a list of key=value', () => {
    const c = extractContext(
      raw({ traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: 'just garbage' }),
    );
    assert.equal((c as { traceState?: string }).traceState, undefined);
  });
});

describe('injectContext', () => {
  it('writes traceparent and B3 multi for a request that came without B3', () => {
    const out: string[] = [];
    injectContext(out, 'w3c', TRACE, SPAN, 'aaaaaaaaaaaaaaaa', true, 'k=v');
    assert.deepEqual(out, [
      'traceparent',
      `00-${TRACE}-${SPAN}-01`,
      'tracestate',
      'k=v',
      'x-b3-traceid',
      TRACE,
      'x-b3-spanid',
      SPAN,
      'x-b3-sampled',
      '1',
      'x-b3-parentspanid',
      'aaaaaaaaaaaaaaaa',
    ]);
  });

  it('answers single-header B3 in kind', () => {
    const out: string[] = [];
    injectContext(out, 'b3', TRACE, SPAN, undefined, false, undefined);
    assert.deepEqual(out, ['traceparent', `00-${TRACE}-${SPAN}-00`, 'b3', `${TRACE}-${SPAN}-0`]);
  });
});

describe('decideSampled', () => {
  const never = () => {
    throw new Error('random must not be drawn when upstream decided');
  };
  it('honours the caller', () => {
    assert.equal(decideSampled(true, 0, never), true);
    assert.equal(decideSampled(false, 100, never), false);
  });

  it('draws against the percentage otherwise', () => {
    assert.equal(
      decideSampled(undefined, 1, () => 0.005),
      true,
    );
    assert.equal(
      decideSampled(undefined, 1, () => 0.015),
      false,
    );
    assert.equal(
      decideSampled(undefined, 0, () => 0),
      false,
    );
    assert.equal(
      decideSampled(undefined, 100, () => 0.999),
      true,
    );
  });

  it('samples about the asked share', () => {
    const random = seededRandom(7);
    let n = 0;
    for (let i = 0; i < 100_000; i++) if (decideSampled(undefined, 1, random)) n++;
    assert.ok(n > 850 && n < 1150, `sampled ${n} of 100000 at 1%`);
  });
});
