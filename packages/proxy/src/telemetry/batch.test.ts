import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createEventBatch } from './batch.js';

describe('event batch', () => {
  it('hands events over in arrival order, with their times, when flushed', () => {
    const seen: [string, number][] = [];
    const batch = createEventBatch<string>((items, times) => {
      items.forEach((item, i) => seen.push([item, times[i]!]));
    }, 1000);
    batch.push('a', 10);
    batch.push('b', 20);
    assert.deepEqual(seen, []);
    batch.flush();
    assert.deepEqual(seen, [
      ['a', 10],
      ['b', 20],
    ]);
    batch.flush();
    assert.equal(seen.length, 2, 'a flush with nothing waiting hands over nothing');
  });

  it('hands events over once the interval has passed', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const batches: string[][] = [];
    const batch = createEventBatch<string>((items) => void batches.push([...items]), 200);
    batch.push('a', 0);
    batch.push('b', 0);
    t.mock.timers.tick(199);
    assert.deepEqual(batches, []);
    t.mock.timers.tick(1);
    assert.deepEqual(batches, [['a', 'b']]);
    batch.push('c', 0);
    t.mock.timers.tick(200);
    assert.deepEqual(batches, [['a', 'b'], ['c']]);
  });

  it('hands over at once when too many wait, whatever the interval', () => {
    let handed = 0;
    const batch = createEventBatch<number>((items) => void (handed += items.length), 60_000);
    for (let i = 0; i < 5000; i++) batch.push(i, 0);
    assert.ok(handed >= 4000, `only ${handed} of 5000 handed over without a flush`);
    batch.flush();
    assert.equal(handed, 5000);
  });

  it('loses only the batch whose consumer threw, and keeps working', () => {
    const batches: string[][] = [];
    const batch = createEventBatch<string>((items) => {
      batches.push([...items]);
      if (items.includes('bad')) throw new Error('consumer bug');
    }, 1000);
    batch.push('bad', 0);
    assert.throws(() => batch.flush(), /consumer bug/);
    batch.push('good', 0);
    batch.flush();
    assert.deepEqual(batches, [['bad'], ['good']]);
  });
});
