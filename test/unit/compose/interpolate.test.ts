import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interpolate, interpolateString, parseDotenv } from '../../../src/cli/compose/interpolate.ts';

const env = { SET: 'value', EMPTY: '', PORT: '8080' };

test('every interpolation form compose supports', () => {
  const cases: Array<[string, string]> = [
    ['${SET}', 'value'],
    ['$SET/x', 'value/x'],
    ['${UNSET}', ''],
    ['${UNSET:-dflt}', 'dflt'],
    ['${EMPTY:-dflt}', 'dflt'],
    ['${EMPTY-dflt}', ''],
    ['${UNSET-dflt}', 'dflt'],
    ['${SET:+alt}', 'alt'],
    ['${EMPTY:+alt}', ''],
    ['${EMPTY+alt}', 'alt'],
    ['${UNSET:-${PORT}}', '8080'],
    ['$$SET', '$SET'],
    ['a$$', 'a$'],
    ['cost: 5$', 'cost: 5$'],
    ['${PORT}:80', '8080:80'],
  ];
  for (const [input, want] of cases) assert.equal(interpolateString(input, env), want, input);
});

test('required variables fail with the message given', () => {
  assert.throws(() => interpolateString('${UNSET:?set it please}', env), /UNSET is missing a value: set it please/);
  assert.throws(() => interpolateString('${EMPTY:?}', env), /EMPTY/);
  assert.equal(interpolateString('${EMPTY?}', env), '');
  assert.throws(() => interpolateString('${SET', env), /invalid interpolation/);
});

test('values are interpolated, keys are not', () => {
  assert.deepEqual(interpolate({ '${SET}': ['${SET}', 1, true, null] }, env), { '${SET}': ['value', 1, true, null] });
});

test('.env parsing: comments, quotes, export, inline comments, $ kept literal', () => {
  const text = '# c\nexport A=1\nB="two words"\nC=\'x $y\'\nD=3 # note\nE=p$q\n\nbad line\n';
  assert.deepEqual(parseDotenv(text), { A: '1', B: 'two words', C: 'x $y', D: '3', E: 'p$q' });
});
