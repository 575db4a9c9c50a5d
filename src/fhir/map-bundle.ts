import type { RejectionReason } from '../contract/events.js';
import { InputError } from '../errors.js';
import {
  asArray,
  asObject,
  asString,
  codings,
  conceptText,
  datePart,
  extension,
  extensions,
  hasProfile,
  integerValue,
  type Json,
} from './resource-access.js';
import {
  ALIVE_CODE,
  EXTENSIONS,
  IMMUNOTHERAPY_AGENTS,
  PROFILES,
  RADIOTHERAPY_COURSE_CODE,
  SYSTEMS,
  VITAL_STATUS_LOINC,
} from './vocabulary.js';

/**
 * FHIR R4 / mCODE Bundle -> contract v1 events. Pure: no I/O, no clock. The README's mapping
 * table documents every rule here; keep the two in step.
 *
 * Every entry of the bundle ends up as exactly one outcome:
 * - `event`: a candidate contract event (validated by the caller like any other input);
 * - `rejected`: the resource cannot be mapped; the reasons name the resource and the element;
 * - `supporting`: a resource that is not itself a fact but is read by the others (a Patient
 *   without a death, a Medication, a SecondaryCancerCondition folded into its primary).
 */

export type FhirOutcome =
  | { kind: 'event'; entryIndex: number; resource: string; event: Json }
  | { kind: 'rejected'; entryIndex: number; resource: string; reasons: RejectionReason[]; raw: string }
  | { kind: 'supporting'; entryIndex: number; resource: string; note: string };

/** Resource types read by the mapping of others; on their own they are not events. */
const SUPPORTING_TYPES = new Set([
  'Medication',
  'BodyStructure',
  'Practitioner',
  'PractitionerRole',
  'Organization',
]);

class Unmappable extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

function fail(path: string, message: string): never {
  throw new Unmappable(path, message);
}

type Entry = {
  index: number;
  fullUrl: string | undefined;
  resource: Json;
  type: string;
  id: string | undefined;
  /** `entry.request.method` of a transaction entry (PUT, POST, DELETE, ...). */
  method: string | undefined;
};

class BundleIndex {
  private readonly byReference = new Map<string, Entry>();

  constructor(readonly entries: Entry[]) {
    for (const entry of entries) {
      if (entry.fullUrl) this.byReference.set(entry.fullUrl, entry);
      if (entry.id) this.byReference.set(`${entry.type}/${entry.id}`, entry);
    }
  }

  resolve(reference: string): Entry | undefined {
    const direct = this.byReference.get(reference);
    if (direct) return direct;
    // An absolute URL ending in Type/id refers to the same resource as the relative form.
    const match = /([A-Za-z]+\/[^/]+)$/.exec(reference);
    return match?.[1] ? this.byReference.get(match[1]) : undefined;
  }
}

function medicalRecordNumber(patient: Json): string | undefined {
  for (const identifier of asArray(patient.identifier).map(asObject)) {
    if (!identifier) continue;
    const isMrn = codings(identifier.type).some(
      (c) => c.code === 'MR' && (c.system === undefined || c.system === SYSTEMS.v2IdentifierType),
    );
    if (isMrn && asString(identifier.value)) return asString(identifier.value);
  }
  return undefined;
}

type PatientRef = { patientId: string; patient: Json | undefined; key: string };

function resolvePatient(index: BundleIndex, resource: Json, element: 'subject' | 'patient'): PatientRef {
  const type = String(resource.resourceType);
  const ref = asObject(resource[element]);
  const reference = asString(ref?.reference);
  if (reference) {
    const entry = index.resolve(reference);
    if (entry && entry.type === 'Patient') {
      const mrn = medicalRecordNumber(entry.resource);
      const fallback = entry.id ?? /Patient\/([^/]+)$/.exec(reference)?.[1];
      const patientId = mrn ?? fallback;
      if (patientId) return { patientId, patient: entry.resource, key: `Patient/${entry.id ?? reference}` };
    }
    const logicalId = /(?:^|\/)Patient\/([^/]+)$/.exec(reference)?.[1];
    if (logicalId) return { patientId: logicalId, patient: undefined, key: `Patient/${logicalId}` };
    fail(`${type}.${element}.reference`, `"${reference}" does not resolve to a Patient in the bundle`);
  }
  const identifierValue = asString(asObject(ref?.identifier)?.value);
  if (identifierValue)
    return { patientId: identifierValue, patient: undefined, key: `MRN/${identifierValue}` };
  return fail(`${type}.${element}`, 'missing: a reference to the Patient (or a Patient identifier)');
}

function envelope(
  source: string,
  entry: Entry,
  patientId: string,
  type: string,
  occurredOn: string,
  payload: Json,
): Json {
  return {
    eventId: `${entry.type}/${entry.id}`,
    source,
    type,
    schemaVersion: 1,
    patientId,
    occurredOn,
    payload,
  };
}

// ---------------------------------------------------------------------------------------------
// Condition -> patient.registered

const ESOPHAGUS = /\bc15(\.\d)?\b|esophag|oesophag|363402007|32849002/;
const SQUAMOUS = /squamous|\b807[0-8]\/3\b|\b807[0-8]3\b|28899001|402815007/;
const MALIGNANCY = /\bc\d\d(\.\d+)?\b|carcinoma|cancer|malignan|neoplasm|tumou?r|363346000/;
const METASTATIC_STAGE = /(^|[^a-z0-9])[cp]?m1[a-c]?($|[^a-z0-9])|stage\s*iv|metasta/;

function isSecondaryCancer(resource: Json): boolean {
  return hasProfile(resource, PROFILES.secondaryCancerCondition);
}

function isCancerCondition(resource: Json): boolean {
  return hasProfile(resource, PROFILES.primaryCancerCondition) || MALIGNANCY.test(conceptText(resource.code));
}

function mapCondition(
  source: string,
  index: BundleIndex,
  entry: Entry,
  metastaticPatients: Set<string>,
): Json {
  const r = entry.resource;
  if (!isCancerCondition(r)) {
    fail(
      'Condition.code',
      'not a cancer condition (no mCODE PrimaryCancerCondition profile, and the code names no malignancy)',
    );
  }
  const subject = resolvePatient(index, r, 'subject');
  const diagnosedOn =
    datePart(r.onsetDateTime) ?? datePart(asObject(r.onsetPeriod)?.start) ?? datePart(r.recordedDate);
  if (!diagnosedOn)
    fail('Condition.onsetDateTime', 'missing: onsetDateTime, onsetPeriod.start or recordedDate');

  const morphology = extension(r, EXTENSIONS.histologyMorphologyBehavior)?.valueCodeableConcept;
  const siteText = `${conceptText(r.code)} | ${asArray(r.bodySite).map(conceptText).join(' | ')}`;
  const histologyText = `${conceptText(morphology)} | ${conceptText(r.code)}`;
  const morphologyName = codings(morphology)[0];
  let histology: string | undefined;
  if (ESOPHAGUS.test(siteText) && SQUAMOUS.test(histologyText)) histology = 'ESCC';
  else if (morphologyName) histology = morphologyName.display ?? morphologyName.code;
  else if (!ESOPHAGUS.test(siteText)) histology = codings(r.code).find((c) => c.display)?.display;
  // An esophageal cancer whose morphology is not stated cannot be classified: ask for it.
  if (!histology) {
    fail(
      'Condition.extension[mcode-histology-morphology-behavior]',
      'missing: the histology (morphology) of the cancer, in the mCODE extension or the code',
    );
  }

  const clinicalStatus = codings(r.clinicalStatus).map((c) => c.code);
  const stageText = asArray(r.stage)
    .map(asObject)
    .map((s) => `${conceptText(s?.summary)} | ${conceptText(s?.type)}`)
    .join(' | ');
  const metastatic =
    metastaticPatients.has(subject.key) ||
    METASTATIC_STAGE.test(stageText) ||
    /metasta/.test(conceptText(r.code));
  const recurrent = clinicalStatus.includes('recurrence') || clinicalStatus.includes('relapse');
  const diseaseSetting = metastatic ? 'metastatic' : recurrent ? 'recurrent' : 'unspecified';

  const payload: Json = { histology, diseaseSetting, diagnosedOn };
  const gender = asString(subject.patient?.gender);
  if (gender) payload.sex = gender;
  const birthYear = /^(\d{4})/.exec(asString(subject.patient?.birthDate) ?? '')?.[1];
  if (birthYear) payload.birthYear = Number(birthYear);
  return envelope(source, entry, subject.patientId, 'patient.registered', diagnosedOn, payload);
}

// ---------------------------------------------------------------------------------------------
// MedicationAdministration -> immunotherapy.cycle

function lineAndCycle(r: Json): { line: number | undefined; cycle: number | undefined } {
  let line = integerValue(extension(r, EXTENSIONS.treatmentLine));
  let cycle = integerValue(extension(r, EXTENSIONS.treatmentCycleNumber));
  // Fallback for engines that cannot add extensions: "line 1 cycle 3" in the dosage text.
  const dosageText = asString(asObject(r.dosage)?.text) ?? '';
  line ??= toInt(/\bline\s*(\d+)/i.exec(dosageText)?.[1]);
  cycle ??= toInt(/\b(?:cycle|c)\s*(\d+)/i.exec(dosageText)?.[1]);
  return { line, cycle };
}

function toInt(text: string | undefined): number | undefined {
  return text === undefined ? undefined : Number.parseInt(text, 10);
}

function mapMedicationAdministration(source: string, index: BundleIndex, entry: Entry): Json {
  const r = entry.resource;
  const status = asString(r.status);
  if (status !== 'completed') {
    fail(
      'MedicationAdministration.status',
      `is "${status ?? '(missing)'}"; only completed administrations are cycles`,
    );
  }
  let concept: unknown = r.medicationCodeableConcept;
  const medicationRef = asString(asObject(r.medicationReference)?.reference);
  if (!concept && medicationRef) {
    const medication = index.resolve(medicationRef);
    if (!medication)
      fail('MedicationAdministration.medicationReference', `"${medicationRef}" is not in the bundle`);
    concept = medication.resource.code;
  }
  const medicationText = conceptText(concept);
  if (!medicationText) fail('MedicationAdministration.medication[x]', 'missing: the administered medication');
  const agent = IMMUNOTHERAPY_AGENTS.find((name) => medicationText.includes(name));
  if (!agent) {
    fail(
      'MedicationAdministration.medication[x]',
      `"${codings(concept)[0]?.display ?? medicationText}" is not a known immunotherapy agent (${IMMUNOTHERAPY_AGENTS.join(', ')})`,
    );
  }
  const subject = resolvePatient(index, r, 'subject');
  const occurredOn = datePart(r.effectiveDateTime) ?? datePart(asObject(r.effectivePeriod)?.start);
  if (!occurredOn)
    fail('MedicationAdministration.effective[x]', 'missing: effectiveDateTime or effectivePeriod.start');
  const { line, cycle } = lineAndCycle(r);
  if (line === undefined) {
    fail(`MedicationAdministration.extension[${EXTENSIONS.treatmentLine}]`, 'missing: the line of therapy');
  }
  if (cycle === undefined) {
    fail(
      `MedicationAdministration.extension[${EXTENSIONS.treatmentCycleNumber}]`,
      'missing: the cycle number',
    );
  }
  return envelope(source, entry, subject.patientId, 'immunotherapy.cycle', occurredOn, {
    line,
    cycleNumber: cycle,
    agent,
  });
}

// ---------------------------------------------------------------------------------------------
// Procedure (RadiotherapyCourseSummary) -> radiotherapy.course

function radiotherapySite(r: Json): 'primary' | 'regional-node' | 'metastasis' | undefined {
  const explicit = asString(extension(r, EXTENSIONS.radiotherapyTargetSite)?.valueCode);
  if (explicit === 'primary' || explicit === 'regional-node' || explicit === 'metastasis') return explicit;
  const text = asArray(r.bodySite).map(conceptText).join(' | ');
  if (/metasta/.test(text)) return 'metastasis';
  if (/lymph|node/.test(text)) return 'regional-node';
  if (ESOPHAGUS.test(text)) return 'primary';
  return undefined;
}

function deliveredDose(r: Json): { totalDoseGy?: number; fractions?: number } {
  let best: { totalDoseGy?: number; fractions?: number } = {};
  for (const volume of extensions(r, EXTENSIONS.radiotherapyDoseDeliveredToVolume)) {
    const dose = asObject(extension(volume, 'totalDoseDelivered')?.valueQuantity);
    const value = typeof dose?.value === 'number' ? dose.value : undefined;
    const unit = (asString(dose?.code) ?? asString(dose?.unit) ?? 'cGy').toLowerCase();
    const gy = value === undefined ? undefined : unit === 'gy' ? value : value / 100;
    const fractions = integerValue(extension(volume, 'fractionsDelivered'));
    // Several volumes (e.g. primary and nodes): report the highest dose, which is the course's
    // prescription to the main target.
    if (gy !== undefined && (best.totalDoseGy === undefined || gy > best.totalDoseGy)) {
      best = { totalDoseGy: Math.round(gy * 1000) / 1000, ...(fractions !== undefined ? { fractions } : {}) };
    }
  }
  if (best.fractions === undefined) {
    const sessions = integerValue(extension(r, EXTENSIONS.radiotherapySessions));
    if (sessions !== undefined) best.fractions = sessions;
  }
  return best;
}

function mapProcedure(source: string, index: BundleIndex, entry: Entry): Json {
  const r = entry.resource;
  const isCourse =
    hasProfile(r, PROFILES.radiotherapyCourseSummary) ||
    codings(r.code).some((c) => c.code === RADIOTHERAPY_COURSE_CODE) ||
    /radiotherap|radiation therapy/.test(conceptText(r.code));
  if (!isCourse) {
    fail(
      'Procedure.code',
      `not a radiotherapy course (mCODE RadiotherapyCourseSummary, SNOMED ${RADIOTHERAPY_COURSE_CODE})`,
    );
  }
  const status = asString(r.status);
  if (status !== 'completed' && status !== 'in-progress') {
    fail(
      'Procedure.status',
      `is "${status ?? '(missing)'}"; only completed or in-progress courses are mapped`,
    );
  }
  const subject = resolvePatient(index, r, 'subject');
  const period = asObject(r.performedPeriod);
  const startedOn = datePart(period?.start) ?? datePart(r.performedDateTime);
  if (!startedOn) fail('Procedure.performed[x]', 'missing: performedPeriod.start (or performedDateTime)');
  const endedOn = datePart(period?.end);
  const site = radiotherapySite(r);
  if (!site) {
    fail(
      'Procedure.bodySite',
      `missing: the target (primary / regional node / metastasis) in bodySite or extension ${EXTENSIONS.radiotherapyTargetSite}`,
    );
  }
  const line = integerValue(extension(r, EXTENSIONS.treatmentLine));
  if (line === undefined)
    fail(`Procedure.extension[${EXTENSIONS.treatmentLine}]`, 'missing: the line of therapy');
  const statedIntent = codings(extension(r, EXTENSIONS.procedureIntent)?.valueCodeableConcept)[0];
  // "Local" radiotherapy is radiotherapy to the primary tumour or the regional nodes (SPEC 3);
  // other targets keep the stated intent (e.g. palliative) so the analysis can tell them apart.
  const intent =
    site === 'primary' || site === 'regional-node'
      ? 'local'
      : (statedIntent?.display?.toLowerCase() ?? statedIntent?.code ?? 'metastasis-directed');
  const payload: Json = { line, intent, site, startedOn, ...deliveredDose(r) };
  if (endedOn) payload.endedOn = endedOn;
  return envelope(source, entry, subject.patientId, 'radiotherapy.course', startedOn, payload);
}

// ---------------------------------------------------------------------------------------------
// Encounter / Observation -> followup.contact; Patient.deceasedDateTime -> death.recorded

function mapEncounter(source: string, index: BundleIndex, entry: Entry): Json {
  const r = entry.resource;
  const status = asString(r.status);
  if (status !== 'finished' && status !== 'in-progress' && status !== 'arrived') {
    fail(
      'Encounter.status',
      `is "${status ?? '(missing)'}"; only finished, in-progress or arrived encounters are contacts`,
    );
  }
  const subject = resolvePatient(index, r, 'subject');
  const occurredOn = datePart(asObject(r.period)?.start);
  if (!occurredOn) fail('Encounter.period.start', 'missing: the date of the contact');
  return envelope(source, entry, subject.patientId, 'followup.contact', occurredOn, { vitalStatus: 'alive' });
}

function mapObservation(source: string, index: BundleIndex, entry: Entry): Json {
  const r = entry.resource;
  const isVitalStatus = codings(r.code).some((c) => c.code === VITAL_STATUS_LOINC);
  const alive =
    codings(r.code).some((c) => c.code === ALIVE_CODE) ||
    (isVitalStatus &&
      codings(r.valueCodeableConcept).some(
        (c) => c.code === ALIVE_CODE || c.display?.toLowerCase() === 'alive',
      ));
  if (!alive) {
    fail(
      'Observation.code',
      `not a contact: expected LOINC ${VITAL_STATUS_LOINC} (vital status) valued alive, or SNOMED ${ALIVE_CODE}; deaths come as Patient.deceasedDateTime`,
    );
  }
  const status = asString(r.status);
  if (status !== 'final' && status !== 'amended' && status !== 'corrected') {
    fail(
      'Observation.status',
      `is "${status ?? '(missing)'}"; only final, amended or corrected observations are mapped`,
    );
  }
  const subject = resolvePatient(index, r, 'subject');
  const occurredOn = datePart(r.effectiveDateTime) ?? datePart(asObject(r.effectivePeriod)?.start);
  if (!occurredOn) fail('Observation.effective[x]', 'missing: effectiveDateTime or effectivePeriod.start');
  return envelope(source, entry, subject.patientId, 'followup.contact', occurredOn, { vitalStatus: 'alive' });
}

function mapPatient(source: string, entry: Entry): Json | undefined {
  const r = entry.resource;
  const diedOn = datePart(r.deceasedDateTime);
  if (!diedOn) {
    if (r.deceasedBoolean === true)
      fail('Patient.deceasedDateTime', 'missing: deceasedBoolean is true but the date of death is not given');
    return undefined;
  }
  const patientId = medicalRecordNumber(r) ?? entry.id;
  if (!patientId) fail('Patient.identifier', 'missing: an MR identifier or a resource id');
  return envelope(source, entry, patientId, 'death.recorded', diedOn, { diedOn });
}

// ---------------------------------------------------------------------------------------------

function readEntries(bundle: unknown): Entry[] {
  const b = asObject(bundle) ?? {};
  if (b.resourceType !== 'Bundle') throw new InputError('not a FHIR Bundle (resourceType must be "Bundle")');
  const type = asString(b.type);
  if (type !== 'transaction' && type !== 'collection') {
    throw new InputError(
      `Bundle.type is "${type ?? '(missing)'}"; transaction or collection bundles are accepted`,
    );
  }
  return asArray(b.entry).map((raw, index) => {
    const e = asObject(raw);
    const resource = asObject(e?.resource) ?? {};
    return {
      index,
      fullUrl: asString(e?.fullUrl),
      resource,
      type: asString(resource.resourceType) ?? '(no resourceType)',
      id: asString(resource.id),
      method: asString(asObject(e?.request)?.method)?.toUpperCase(),
    };
  });
}

/** Maps one Bundle. Throws InputError when the input is not a transaction/collection Bundle. */
export function mapBundle(bundle: unknown, source: string): FhirOutcome[] {
  const entries = readEntries(bundle);
  const index = new BundleIndex(entries);

  // Secondary cancer conditions only say "this patient's cancer has spread": fold them into the
  // patient's primary condition, which is the one registration.
  const metastaticPatients = new Set<string>();
  const primaryPatients = new Set<string>();
  for (const entry of entries) {
    if (entry.type !== 'Condition') continue;
    try {
      const subject = resolvePatient(index, entry.resource, 'subject');
      if (isSecondaryCancer(entry.resource)) metastaticPatients.add(subject.key);
      else if (isCancerCondition(entry.resource)) primaryPatients.add(subject.key);
    } catch {
      // Reported when the entry itself is mapped below.
    }
  }

  return entries.map((entry): FhirOutcome => {
    const resource = `${entry.type}/${entry.id ?? `(entry ${entry.index})`}`;
    try {
      if (entry.method === 'DELETE') {
        fail('Bundle.entry.request', 'DELETE is not mapped: withdraw a fact with an event.retracted event');
      }
      if (!entry.id && entry.type !== '(no resourceType)') {
        fail(`${entry.type}.id`, 'missing: the resource id, which becomes the event id');
      }
      let event: Json | undefined;
      switch (entry.type) {
        case 'Condition': {
          if (isSecondaryCancer(entry.resource)) {
            const subject = resolvePatient(index, entry.resource, 'subject');
            if (!primaryPatients.has(subject.key)) {
              fail(
                'Condition',
                'a SecondaryCancerCondition needs the PrimaryCancerCondition of the same patient in the bundle',
              );
            }
            return {
              kind: 'supporting',
              entryIndex: entry.index,
              resource,
              note: 'sets diseaseSetting=metastatic on the primary condition',
            };
          }
          event = mapCondition(source, index, entry, metastaticPatients);
          break;
        }
        case 'MedicationAdministration':
          event = mapMedicationAdministration(source, index, entry);
          break;
        case 'Procedure':
          event = mapProcedure(source, index, entry);
          break;
        case 'Encounter':
          event = mapEncounter(source, index, entry);
          break;
        case 'Observation':
          event = mapObservation(source, index, entry);
          break;
        case 'Patient':
          event = mapPatient(source, entry);
          if (!event)
            return {
              kind: 'supporting',
              entryIndex: entry.index,
              resource,
              note: 'patient identity (no death recorded)',
            };
          break;
        default:
          if (SUPPORTING_TYPES.has(entry.type)) {
            return {
              kind: 'supporting',
              entryIndex: entry.index,
              resource,
              note: 'referenced by other resources',
            };
          }
          fail(entry.type, `resource type ${entry.type} is not mapped to any event`);
      }
      return { kind: 'event', entryIndex: entry.index, resource, event };
    } catch (error) {
      if (!(error instanceof Unmappable)) throw error;
      return {
        kind: 'rejected',
        entryIndex: entry.index,
        resource,
        reasons: [{ path: error.path, message: `${resource}: ${error.message}` }],
        raw: JSON.stringify(entry.resource),
      };
    }
  });
}
