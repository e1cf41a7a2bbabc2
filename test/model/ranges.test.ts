// The one grammar of number lists (src/data/ranges.ts) and its users: --layers, the
// eval method specs, --records and the page's layers field.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseLayers } from '../../src/cli/analyze.ts';
import { UsageError } from '../../src/cli/common.ts';
import { BadDataError, selectRecords } from '../../src/data/counterfact.ts';
import { expandRanges, formatRanges, layersIn, parseRanges } from '../../src/data/ranges.ts';
import { BadInputError } from '../../src/errors.ts';
import { BadMethodError, parseMethod } from '../../src/eval/methods.ts';
import { layerList as layerField } from '../../web/fields.ts';

test('items are numbers or inclusive ranges; expanded sorted and without repeats', () => {
  assert.equal(parseRanges('0,3,5-7'), [[0, 0], [3, 3], [5, 7]]);
  assert.equal(parseRanges(' 2-3 '), [[2, 3]]);
  assert.equal(expandRanges(parseRanges('5-7, 0,6,3')), [0, 3, 5, 6, 7]);
  assert.equal(expandRanges(parseRanges('1+0-1', { separator: '+' })), [0, 1]);
});

test('a bad list is one line naming the item, in the caller\'s error class', () => {
  const cases: [string, RegExp][] = [
    ['', /an empty item/],
    ['1,,2', /an empty item/],
    ['x', /"x" is not a number or a range like 3-7/],
    ['1-', /"1-" is not a number/],
    ['-1', /"-1" is not a number/],
    ['3-1', /the range 3-1 runs backwards; write 1-3/],
    ['0-99999999999', /the range 0-99999999999 is too large/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseRanges(text), (e: Error) => e instanceof BadInputError && message.test(e.message) && !e.message.includes('\n'), text);
  }
  assert.throws(() => parseRanges('x', { noun: 'layer', fail: (p) => new RangeError(`here: ${p}`) }), (e: Error) => e instanceof RangeError && e.message === 'here: "x" is not a layer or a range like 3-7');
});

test('formatRanges writes runs as ranges and reads back', () => {
  assert.is(formatRanges([0, 1, 2, 5]), '0-2,5');
  assert.is(formatRanges([3], '+'), '3');
  assert.is(formatRanges([0, 2, 3, 4, 9, 10], '+'), '0+2-4+9-10');
  assert.equal(expandRanges(parseRanges(formatRanges([0, 2, 3, 4, 9, 10]))), [0, 2, 3, 4, 9, 10]);
});

test('layersIn: a layer past the model\'s last is refused', () => {
  assert.equal(layersIn(parseRanges('0-2'), 3, (p) => new Error(p)), [0, 1, 2]);
  assert.throws(() => layersIn(parseRanges('1,3'), 3, (p) => new Error(p)), /layer 3 does not exist: this model has layers 0-2/);
});

test('the CLI, eval specs and record selection read the same grammar', () => {
  assert.equal(parseLayers('0,3-4'), [[0, 0], [3, 4]]);
  assert.throws(() => parseLayers('2-0'), (e: Error) => e instanceof UsageError && /^--layers "2-0": the range 2-0 runs backwards/.test(e.message));
  assert.is(parseMethod('memit:layers=2+0-1').label, 'memit:layers=0-2');
  assert.throws(() => parseMethod('sgd:layers=3-1,lr=1'), (e: Error) => e instanceof BadMethodError && /range 3-1 runs backwards/.test(e.message));
  const records = Array.from({ length: 10 }, (_, i) => ({ case_id: 100 + i }));
  assert.equal(selectRecords(records, '7-8,2').map((s) => s.index), [2, 7, 8]);
  assert.equal(selectRecords(records, 'case:101-102').map((s) => s.index), [1, 2]);
  assert.throws(() => selectRecords(records, '4-2'), (e: Error) => e instanceof BadDataError && /records "4-2": the range 4-2 runs backwards/.test(e.message));
});

test('the page\'s layers field takes ranges as the CLI does', () => {
  assert.equal(layerField('2-3', 12), [2, 3]);
  assert.equal(layerField(' 0, 5-6 ', 12), [0, 5, 6]);
  assert.is(layerField('', 12), undefined);
  assert.is(layerField('all', 12), undefined);
  assert.throws(() => layerField('12', 12), (e: Error) => e instanceof BadInputError && /layer 12 does not exist/.test(e.message));
  assert.throws(() => layerField('1,x', 12), (e: Error) => e instanceof BadInputError && /"x" is not a layer/.test(e.message));
});

test.run();
