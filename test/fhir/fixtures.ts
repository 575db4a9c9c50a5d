import { EXTENSIONS, PROFILES } from '../../src/fhir/vocabulary.js';

/**
 * A whole ESCC patient history as an mCODE-style FHIR R4 collection Bundle, and the contract
 * events it stands for (what a producer would send as NDJSON).
 */

const line1 = { url: EXTENSIONS.treatmentLine, valuePositiveInt: 1 };
const subject = { reference: 'Patient/p100' };

export function cycleAdministration(id: string, cycle: number, date: string, agent = 'Camrelizumab') {
  return {
    resourceType: 'MedicationAdministration',
    id,
    meta: { profile: [PROFILES.cancerRelatedMedicationAdministration] },
    extension: [line1, { url: EXTENSIONS.treatmentCycleNumber, valuePositiveInt: cycle }],
    status: 'completed',
    medicationCodeableConcept: {
      coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', display: agent }],
    },
    subject,
    effectiveDateTime: `${date}T09:30:00+08:00`,
  };
}

export function patientHistoryBundle() {
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      {
        fullUrl: 'https://ehr.example.org/fhir/Patient/p100',
        resource: {
          resourceType: 'Patient',
          id: 'p100',
          identifier: [
            { system: 'urn:oid:1.2.3', value: 'NATIONAL-ID-9' },
            {
              type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] },
              system: 'urn:oid:1.2.3.4',
              value: 'MRN-100',
            },
          ],
          gender: 'male',
          birthDate: '1955-03-02',
          deceasedDateTime: '2021-08-15T03:10:00+08:00',
        },
      },
      {
        resource: {
          resourceType: 'Condition',
          id: 'c1',
          meta: { profile: [PROFILES.primaryCancerCondition] },
          extension: [
            {
              url: EXTENSIONS.histologyMorphologyBehavior,
              valueCodeableConcept: {
                coding: [
                  {
                    system: 'http://snomed.info/sct',
                    code: '28899001',
                    display: 'Squamous cell carcinoma, no ICD-O subtype',
                  },
                ],
              },
            },
          ],
          clinicalStatus: {
            coding: [
              { system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'recurrence' },
            ],
          },
          code: {
            coding: [
              {
                system: 'http://hl7.org/fhir/sid/icd-10-cm',
                code: 'C15.4',
                display: 'Malignant neoplasm of middle third of esophagus',
              },
            ],
          },
          subject,
          onsetDateTime: '2020-01-10',
        },
      },
      { resource: cycleAdministration('ma1', 1, '2020-02-01') },
      { resource: cycleAdministration('ma2', 2, '2020-02-22') },
      { resource: cycleAdministration('ma3', 3, '2020-03-14') },
      {
        resource: {
          resourceType: 'Procedure',
          id: 'rt1',
          meta: { profile: [PROFILES.radiotherapyCourseSummary] },
          extension: [
            line1,
            {
              url: EXTENSIONS.procedureIntent,
              valueCodeableConcept: {
                coding: [{ system: 'http://snomed.info/sct', code: '373808002', display: 'Curative' }],
              },
            },
            {
              url: EXTENSIONS.radiotherapyDoseDeliveredToVolume,
              extension: [
                { url: 'volume', valueReference: { reference: 'BodyStructure/ptv1' } },
                {
                  url: 'totalDoseDelivered',
                  valueQuantity: {
                    value: 5040,
                    unit: 'cGy',
                    system: 'http://unitsofmeasure.org',
                    code: 'cGy',
                  },
                },
                { url: 'fractionsDelivered', valueUnsignedInt: 28 },
              ],
            },
          ],
          status: 'completed',
          code: {
            coding: [
              {
                system: 'http://snomed.info/sct',
                code: '1217123003',
                display: 'Radiotherapy course of treatment',
              },
            ],
          },
          subject,
          performedPeriod: { start: '2020-03-01', end: '2020-04-10' },
          bodySite: [
            {
              coding: [
                { system: 'http://snomed.info/sct', code: '32849002', display: 'Esophageal structure' },
              ],
            },
          ],
        },
      },
      {
        resource: {
          resourceType: 'Encounter',
          id: 'enc1',
          status: 'finished',
          class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
          subject,
          period: { start: '2021-03-01T10:00:00+08:00', end: '2021-03-01T10:20:00+08:00' },
        },
      },
      {
        resource: {
          resourceType: 'Observation',
          id: 'vs1',
          status: 'final',
          code: { coding: [{ system: 'http://loinc.org', code: '75186-7', display: 'Vital status' }] },
          subject,
          effectiveDateTime: '2021-06-01',
          valueCodeableConcept: {
            coding: [{ system: 'http://snomed.info/sct', code: '438949009', display: 'Alive' }],
          },
        },
      },
    ],
  };
}

/** The same history as contract events (eventId = FHIR Type/id, patientId = the MRN). */
export function patientHistoryEvents(source: string) {
  const base = { source, schemaVersion: 1, patientId: 'MRN-100' };
  const cycle = (id: string, n: number, date: string) => ({
    ...base,
    eventId: `MedicationAdministration/${id}`,
    type: 'immunotherapy.cycle',
    occurredOn: date,
    payload: { line: 1, cycleNumber: n, agent: 'camrelizumab' },
  });
  return [
    {
      ...base,
      eventId: 'Patient/p100',
      type: 'death.recorded',
      occurredOn: '2021-08-15',
      payload: { diedOn: '2021-08-15' },
    },
    {
      ...base,
      eventId: 'Condition/c1',
      type: 'patient.registered',
      occurredOn: '2020-01-10',
      payload: {
        histology: 'ESCC',
        diseaseSetting: 'recurrent',
        diagnosedOn: '2020-01-10',
        sex: 'male',
        birthYear: 1955,
      },
    },
    cycle('ma1', 1, '2020-02-01'),
    cycle('ma2', 2, '2020-02-22'),
    cycle('ma3', 3, '2020-03-14'),
    {
      ...base,
      eventId: 'Procedure/rt1',
      type: 'radiotherapy.course',
      occurredOn: '2020-03-01',
      payload: {
        line: 1,
        intent: 'local',
        site: 'primary',
        startedOn: '2020-03-01',
        totalDoseGy: 50.4,
        fractions: 28,
        endedOn: '2020-04-10',
      },
    },
    {
      ...base,
      eventId: 'Encounter/enc1',
      type: 'followup.contact',
      occurredOn: '2021-03-01',
      payload: { vitalStatus: 'alive' },
    },
    {
      ...base,
      eventId: 'Observation/vs1',
      type: 'followup.contact',
      occurredOn: '2021-06-01',
      payload: { vitalStatus: 'alive' },
    },
  ];
}
