/**
 * The FHIR / mCODE vocabulary the mapper understands: profile and extension URLs, code systems
 * and codes. mCODE (STU3) URLs are the published ones; the two `survflow` extensions carry what
 * neither FHIR R4 nor mCODE has an element for (the treatment line and the cycle number).
 */

const MCODE = 'http://hl7.org/fhir/us/mcode/StructureDefinition';

export const PROFILES = {
  primaryCancerCondition: `${MCODE}/mcode-primary-cancer-condition`,
  secondaryCancerCondition: `${MCODE}/mcode-secondary-cancer-condition`,
  cancerRelatedMedicationAdministration: `${MCODE}/mcode-cancer-related-medication-administration`,
  radiotherapyCourseSummary: `${MCODE}/mcode-radiotherapy-course-summary`,
} as const;

export const EXTENSIONS = {
  histologyMorphologyBehavior: `${MCODE}/mcode-histology-morphology-behavior`,
  procedureIntent: `${MCODE}/mcode-procedure-intent`,
  radiotherapySessions: `${MCODE}/mcode-radiotherapy-sessions`,
  radiotherapyDoseDeliveredToVolume: `${MCODE}/mcode-radiotherapy-dose-delivered-to-volume`,
  /** survflow: the line of therapy (1 = first line), valuePositiveInt. */
  treatmentLine: 'https://survflow.dev/fhir/StructureDefinition/treatment-line',
  /** survflow: the cycle number within the line, valuePositiveInt. */
  treatmentCycleNumber: 'https://survflow.dev/fhir/StructureDefinition/treatment-cycle-number',
  /** survflow: the radiotherapy target, valueCode primary | regional-node | metastasis. */
  radiotherapyTargetSite: 'https://survflow.dev/fhir/StructureDefinition/radiotherapy-target-site',
} as const;

export const SYSTEMS = {
  snomed: 'http://snomed.info/sct',
  icd10: 'http://hl7.org/fhir/sid/icd-10-cm',
  icd10who: 'http://hl7.org/fhir/sid/icd-10',
  icdo3: 'http://terminology.hl7.org/CodeSystem/icd-o-3',
  loinc: 'http://loinc.org',
  v2IdentifierType: 'http://terminology.hl7.org/CodeSystem/v2-0203',
  conditionClinical: 'http://terminology.hl7.org/CodeSystem/condition-clinical',
} as const;

/** PD-1 / PD-L1 / CTLA-4 inhibitors: the agents an `immunotherapy.cycle` may name. */
export const IMMUNOTHERAPY_AGENTS = [
  'camrelizumab',
  'tislelizumab',
  'sintilimab',
  'toripalimab',
  'pembrolizumab',
  'nivolumab',
  'serplulimab',
  'penpulimab',
  'atezolizumab',
  'durvalumab',
  'ipilimumab',
] as const;

/** SNOMED CT "Radiotherapy course of treatment" (the mCODE RadiotherapyCourseSummary code). */
export const RADIOTHERAPY_COURSE_CODE = '1217123003';
/** SNOMED CT "Alive" (finding), and LOINC "Vital status". */
export const ALIVE_CODE = '438949009';
export const VITAL_STATUS_LOINC = '75186-7';
