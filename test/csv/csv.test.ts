import { describe, expect, it } from 'vitest';
import { validateEvent } from '../../src/contract/events.js';
import { mapCsv } from '../../src/csv/map-csv.js';
import { parseCsv } from '../../src/csv/parse-csv.js';

describe('CSV reader', () => {
  it('reads quoted fields, doubled quotes, embedded newlines, CRLF and a BOM, with start lines', () => {
    const text = '\uFEFFa,b,c\r\n1,"two, with comma","say ""hi"""\r\n"multi\nline",x,\n\n4,5,6';
    const { records, problems } = parseCsv(text);
    expect(problems).toEqual([]);
    expect(records.map((r) => [r.line, r.fields])).toEqual([
      [1, ['a', 'b', 'c']],
      [2, ['1', 'two, with comma', 'say "hi"']],
      [3, ['multi\nline', 'x', '']],
      [6, ['4', '5', '6']],
    ]);
  });

  it('reports an unterminated quote and a stray quote with their line', () => {
    expect(parseCsv('a,b\n1,x"y\n').problems).toEqual([
      { line: 2, message: 'a quote inside an unquoted field', text: '1,x"y' },
    ]);
    expect(parseCsv('a,b\n1,"open\n2,3\n').problems[0]).toMatchObject({
      line: 2,
      message: 'unterminated quoted field',
    });
  });
});

describe('CSV intake mapping', () => {
  it('maps one layout per type, in one file with the union of columns', () => {
    const text = [
      'type,eventId,patientId,occurredOn,histology,diseaseSetting,diagnosedOn,line,cycleNumber,agent,diedOn',
      'patient.registered,r1,MRN-1,2020-01-10,ESCC,metastatic,2020-01-10,,,,',
      'immunotherapy.cycle,c1,MRN-1,2020-02-01,,,,1,1,sintilimab,',
      'death.recorded,d1,MRN-1,2021-03-03,,,,,,,2021-03-03',
    ].join('\n');
    const outcomes = mapCsv(text, 'registry');
    expect(outcomes.map((o) => o.kind)).toEqual(['event', 'event', 'event']);
    const events = outcomes.flatMap((o) => (o.kind === 'event' ? [o.event] : []));
    for (const e of events) expect(validateEvent(e).ok).toBe(true);
    expect(events[1]).toEqual({
      eventId: 'c1',
      source: 'registry',
      type: 'immunotherapy.cycle',
      schemaVersion: 1,
      patientId: 'MRN-1',
      occurredOn: '2020-02-01',
      payload: { line: 1, cycleNumber: 1, agent: 'sintilimab' },
    });
  });

  it('rejects bad rows with their line numbers and keeps going', () => {
    const text = [
      'type,eventId,patientId,occurredOn,line,cycleNumber,agent,diedOn',
      'immunotherapy.cycle,c1,MRN-1,2020-02-01,1,two,sintilimab,',
      'immunotherapy.cycle,c2,MRN-1,2020-02-22,1,2,sintilimab,2021-01-01',
      'surgery.done,s1,MRN-1,2020-02-01,,,,',
      'immunotherapy.cycle,c3,MRN-1',
      'immunotherapy.cycle,c4,MRN-1,2020-03-14,1,3,sintilimab,',
    ].join('\n');
    const outcomes = mapCsv(text, 'registry');
    expect(outcomes.map((o) => [o.line, o.kind])).toEqual([
      [2, 'rejected'],
      [3, 'rejected'],
      [4, 'rejected'],
      [5, 'rejected'],
      [6, 'event'],
    ]);
    const messages = outcomes.flatMap((o) => (o.kind === 'rejected' ? [o.reasons[0]?.message] : []));
    expect(messages).toEqual([
      'line 2: expected an integer, found "two"',
      'line 3: column diedOn does not belong to type immunotherapy.cycle; leave it empty',
      expect.stringMatching(/^line 4: unknown event type "surgery.done"/),
      'line 5: expected 8 fields, found 3',
    ]);
  });

  it('refuses a file whose header is unusable', () => {
    expect(() => mapCsv('type,eventId,patientId\n', 'x')).toThrow(/missing column\(s\) occurredOn/);
    expect(() => mapCsv('type,eventId,patientId,occurredOn,colour\n', 'x')).toThrow(
      /unknown column\(s\) colour/,
    );
    expect(() => mapCsv('type,eventId,patientId,occurredOn\n', null)).toThrow(/--source/);
  });
});
