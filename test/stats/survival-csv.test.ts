import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { parseSurvivalCsv } from '../../src/io/survival-csv.js';

function errorOf(text: string): string {
  try {
    parseSurvivalCsv(text, 'f.csv');
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return (error as Error).message;
  }
  throw new Error('expected an InputError');
}

describe('parseSurvivalCsv', () => {
  it('reads columns in any order, quoted fields, CRLF, a BOM, a trailing newline and extra columns', () => {
    const text = '\uFEFFtime,"event",group,site\r\n"1.5",1,"arm, A",x\r\n2,0,B,y\r\n\r\n';
    expect(parseSurvivalCsv(text)).toEqual([
      { group: 'arm, A', time: 1.5, event: 1 },
      { group: 'B', time: 2, event: 0 },
    ]);
  });

  it('keeps the group as text and the time as the exact double', () => {
    expect(parseSurvivalCsv('group,time,event\n007,0.30000000000000004,0\n')).toEqual([
      { group: '007', time: 0.30000000000000004, event: 0 },
    ]);
  });

  it('reports a missing column', () => {
    expect(errorOf('group,time,status\nA,1,1\n')).toMatch(/f\.csv: line 1: missing column "event"/);
  });

  it('reports an empty file and a header without rows', () => {
    expect(errorOf('')).toMatch(/empty file/);
    expect(errorOf('group,time,event\n')).toMatch(/no data rows/);
  });

  it('reports a non-numeric time with its line number', () => {
    expect(errorOf('group,time,event\nA,1,1\nA,abc,0\n')).toBe('f.csv: line 3: time "abc" is not a number');
    expect(errorOf('group,time,event\nA,,1\n')).toBe('f.csv: line 2: time "" is not a number');
  });

  it('reports a negative or non-finite time', () => {
    expect(errorOf('group,time,event\nA,1,1\nA,2,0\nA,-0.5,1\n')).toBe(
      'f.csv: line 4: time -0.5 is negative',
    );
    expect(errorOf('group,time,event\nA,Inf,1\n')).toBe('f.csv: line 2: time "Inf" is not a finite number');
    expect(errorOf('group,time,event\nA,1e999,1\n')).toBe(
      'f.csv: line 2: time "1e999" is not a finite number',
    );
  });

  it('reports an event that is not 0 or 1', () => {
    expect(errorOf('group,time,event\nA,1,2\n')).toBe(
      'f.csv: line 2: event "2" must be 0 (censored) or 1 (death)',
    );
    expect(errorOf('group,time,event\nA,1,yes\n')).toMatch(/line 2: event "yes"/);
  });

  it('counts lines from the file, skipping blank lines', () => {
    expect(errorOf('group,time,event\r\nA,1,1\r\n\r\nA,x,1\r\n')).toMatch(/line 4: time "x"/);
  });

  it('reports a malformed row and an empty group', () => {
    expect(errorOf('group,time,event\nA,1\n')).toMatch(/not valid CSV/);
    expect(errorOf('group,time,event\n,1,1\n')).toBe('f.csv: line 2: empty group');
  });
});
