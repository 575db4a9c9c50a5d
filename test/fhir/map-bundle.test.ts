import { describe, expect, it } from 'vitest';
import { validateEvent } from '../../src/contract/events.js';
import { InputError } from '../../src/errors.js';
import { mapBundle } from '../../src/fhir/map-bundle.js';
import { PROFILES } from '../../src/fhir/vocabulary.js';
import { cycleAdministration, patientHistoryBundle, patientHistoryEvents } from './fixtures.js';

const events = (outcomes: ReturnType<typeof mapBundle>) =>
  outcomes.flatMap((o) => (o.kind === 'event' ? [o.event] : []));
const rejections = (outcomes: ReturnType<typeof mapBundle>) =>
  outcomes.flatMap((o) => (o.kind === 'rejected' ? [o] : []));

describe('FHIR R4 / mCODE bundle mapping', () => {
  it('maps a whole patient history to the equivalent contract events, all valid', () => {
    const mapped = events(mapBundle(patientHistoryBundle(), 'ehr'));
    expect(mapped).toEqual(patientHistoryEvents('ehr'));
    for (const event of mapped) expect(validateEvent(event).ok).toBe(true);
  });

  it('resolves urn:uuid references of a transaction bundle to the MRN, and folds a SecondaryCancerCondition into the primary', () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:5b1a',
          resource: {
            resourceType: 'Patient',
            id: 'x7',
            identifier: [{ type: { coding: [{ code: 'MR' }] }, value: 'MRN-7' }],
          },
          request: { method: 'PUT', url: 'Patient/x7' },
        },
        {
          resource: {
            resourceType: 'Condition',
            id: 'prim',
            code: { text: 'Squamous cell carcinoma of the esophagus' },
            subject: { reference: 'urn:uuid:5b1a' },
            recordedDate: '2021-05-06T11:00:00Z',
          },
        },
        {
          resource: {
            resourceType: 'Condition',
            id: 'met',
            meta: { profile: [PROFILES.secondaryCancerCondition] },
            code: { text: 'Secondary malignant neoplasm of liver' },
            subject: { reference: 'urn:uuid:5b1a' },
          },
        },
      ],
    };
    const outcomes = mapBundle(bundle, 'ehr');
    expect(events(outcomes)).toEqual([
      {
        eventId: 'Condition/prim',
        source: 'ehr',
        type: 'patient.registered',
        schemaVersion: 1,
        patientId: 'MRN-7',
        occurredOn: '2021-05-06',
        payload: { histology: 'ESCC', diseaseSetting: 'metastatic', diagnosedOn: '2021-05-06' },
      },
    ]);
    expect(outcomes.filter((o) => o.kind === 'supporting').map((o) => o.resource)).toEqual([
      'Patient/x7',
      'Condition/met',
    ]);
  });

  it('uses the Patient logical id when the bundle has no MRN for the subject, and cycle/line from dosage.text', () => {
    const administration = { ...cycleAdministration('m9', 1, '2020-01-01', 'Tislelizumab'), extension: [] };
    const withText = { ...administration, dosage: { text: 'line 1 cycle 4, 200 mg IV' } };
    const [outcome] = mapBundle(
      { resourceType: 'Bundle', type: 'collection', entry: [{ resource: withText }] },
      'ehr',
    );
    expect(outcome).toMatchObject({
      kind: 'event',
      event: { patientId: 'p100', payload: { line: 1, cycleNumber: 4, agent: 'tislelizumab' } },
    });
  });

  it('rejects unmappable resources with a reason naming the resource and the missing element', () => {
    const noCycle = { ...cycleAdministration('m10', 1, '2020-01-01'), extension: [] };
    const chemo = cycleAdministration('m11', 1, '2020-01-01', 'Paclitaxel');
    const notDone = { ...cycleAdministration('m12', 1, '2020-01-01'), status: 'not-done' };
    const surgery = {
      resourceType: 'Procedure',
      id: 'surg1',
      status: 'completed',
      code: { text: 'Esophagectomy' },
      subject: { reference: 'Patient/p100' },
    };
    const noSite = {
      resourceType: 'Procedure',
      id: 'rt9',
      meta: { profile: [PROFILES.radiotherapyCourseSummary] },
      status: 'completed',
      subject: { reference: 'Patient/p100' },
      performedPeriod: { start: '2020-01-01' },
    };
    const allergy = { resourceType: 'AllergyIntolerance', id: 'a1' };
    const noDate = {
      resourceType: 'Condition',
      id: 'c9',
      meta: { profile: [PROFILES.primaryCancerCondition] },
      code: { text: 'Squamous cell carcinoma of esophagus' },
      subject: { reference: 'Patient/p100' },
    };
    const noId = { ...cycleAdministration('x', 1, '2020-01-01'), id: undefined };
    const bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [noCycle, chemo, notDone, surgery, noSite, allergy, noDate, noId].map((resource) => ({
        resource,
      })),
    };
    const rejected = rejections(mapBundle(bundle, 'ehr'));
    expect(rejected.map((r) => [r.resource, r.reasons[0]?.path])).toEqual([
      [
        'MedicationAdministration/m10',
        'MedicationAdministration.extension[https://survflow.dev/fhir/StructureDefinition/treatment-line]',
      ],
      ['MedicationAdministration/m11', 'MedicationAdministration.medication[x]'],
      ['MedicationAdministration/m12', 'MedicationAdministration.status'],
      ['Procedure/surg1', 'Procedure.code'],
      ['Procedure/rt9', 'Procedure.bodySite'],
      ['AllergyIntolerance/a1', 'AllergyIntolerance'],
      ['Condition/c9', 'Condition.onsetDateTime'],
      ['MedicationAdministration/(entry 7)', 'MedicationAdministration.id'],
    ]);
    for (const r of rejected) expect(r.reasons[0]?.message.startsWith(`${r.resource}: `)).toBe(true);
    expect(rejected[1]?.reasons[0]?.message).toMatch(/"Paclitaxel" is not a known immunotherapy agent/);
    // The raw resource is kept for repair.
    expect(JSON.parse(rejected[3]?.raw ?? '{}')).toEqual(surgery);
  });

  it('rejects DELETE entries of a transaction, naming the entry', () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ request: { method: 'DELETE', url: 'MedicationAdministration/ma1' } }],
    };
    const [outcome] = mapBundle(bundle, 'ehr');
    expect(outcome).toMatchObject({
      kind: 'rejected',
      reasons: [{ path: 'Bundle.entry.request', message: expect.stringMatching(/DELETE is not mapped/) }],
    });
  });

  it('refuses what is not a transaction or collection Bundle', () => {
    expect(() => mapBundle({ resourceType: 'Patient' }, 'ehr')).toThrow(InputError);
    expect(() => mapBundle({ resourceType: 'Bundle', type: 'searchset', entry: [] }, 'ehr')).toThrow(
      /searchset/,
    );
  });
});
