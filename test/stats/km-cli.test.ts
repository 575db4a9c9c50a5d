/** `survflow km` end to end: a real process, its JSON against R, its table, its exit codes. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { SurvivalAnalysis } from '../../src/stats/index.js';
import { CLI_MAIN } from '../support/cli.js';
import { expectClose, REFERENCE_DIR, referenceCases } from './support/reference.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');

/** Through `npx survflow` as a user runs it from a checkout, or (faster) node on the built CLI. */
async function km(args: string[], viaNpx = false): Promise<{ code: number; stdout: string; stderr: string }> {
  const [command, prefix] = viaNpx ? ['npx', ['survflow']] : [process.execPath, [CLI_MAIN]];
  try {
    const { stdout, stderr } = await run(command, [...prefix, 'km', ...args], { cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const scratch = mkdtempSync(join(tmpdir(), 'survflow-km-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function csvFile(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

describe('survflow km', { timeout: 180_000 }, () => {
  it('--json on a reference case: the SPEC shape, every figure as R computed it', async () => {
    const ref = referenceCases().find((c) => c.name === 'aml_weeks')!;
    const { code, stdout } = await km(['--csv', join(REFERENCE_DIR, 'aml_weeks.csv'), '--json'], true);
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as SurvivalAnalysis;
    expect(Object.keys(out)).toEqual(['groups', 'overall', 'logRank', 'cox']);
    expect(out.groups.map((g) => g.group)).toEqual(['Maintained', 'Nonmaintained']);
    const pairs = [...out.groups.map((g) => [g, g.group] as const), [out.overall, 'ALL'] as const];
    for (const [g, label] of pairs) {
      const exp = ref.expected.groups[label]!;
      expect(Object.keys(g).slice(0, 10)).toEqual([
        'group',
        'n',
        'events',
        'censored',
        'median',
        'medianLower',
        'medianUpper',
        'survival',
        'rmst',
        'followUpMedian',
      ]);
      expect([g.n, g.events, g.censored]).toEqual([exp.n, exp.events, exp.censored]);
      expectClose(g.median, exp.median, 1e-9, `${label} median`);
      expectClose(g.medianLower, exp.median_lower95, 1e-9, `${label} median lower`);
      expectClose(g.medianUpper, exp.median_upper95, 1e-9, `${label} median upper`);
      expectClose(g.followUpMedian, exp.followup_median_reverse_km, 1e-9, `${label} follow-up`);
      expect(g.rmst.tau).toBe(exp.rmst_common.tau);
      expectClose(g.rmst.estimate, exp.rmst_common.rmean, 1e-9, `${label} rmst`);
      expectClose(g.rmst.stdErr, exp.rmst_common.se, 1e-9, `${label} rmst se`);
      expect(g.survival.map((s) => s.time)).toEqual([12, 24, 36]);
      g.survival.forEach((s, i) => {
        const e = exp.survival_at[i]!;
        expect([s.nRisk, s.inRange]).toEqual([e.n_risk, e.in_range]);
        expectClose(s.surv, e.surv, 1e-9, `${label} S(${s.time})`);
        expectClose(s.stdErr, e.std_err, 1e-9, `${label} se(${s.time})`);
        expectClose(s.lower, e.lower95, 1e-9, `${label} lower(${s.time})`);
        expectClose(s.upper, e.upper95, 1e-9, `${label} upper(${s.time})`);
      });
      expect(g.atRisk.map((a) => a.nRisk)).toEqual(exp.at_risk.n_risk);
      expect(g.curve.map((p) => p.time)).toEqual(exp.curve.time);
      expect(g.curve.map((p) => p.nRisk)).toEqual(exp.curve.n_risk);
      expect(g.curve.map((p) => p.nEvent)).toEqual(exp.curve.n_event);
      expect(g.curve.map((p) => p.nCensor)).toEqual(exp.curve.n_censor);
      g.curve.forEach((p, j) => {
        expectClose(p.surv, exp.curve.surv[j], 1e-9, `${label} curve surv`);
        expectClose(p.stdErr, exp.curve.std_err[j], 1e-9, `${label} curve se`);
        expectClose(p.lower, exp.curve.lower[j], 1e-9, `${label} curve lower`);
        expectClose(p.upper, exp.curve.upper[j], 1e-9, `${label} curve upper`);
      });
    }
    const lr = ref.expected.logrank!;
    expect(out.logRank!.df).toBe(lr.df);
    expectClose(out.logRank!.chisq, lr.chisq, 1e-9, 'chisq');
    expectClose(out.logRank!.p, lr.p, 1e-9, 'p');
    const cx = ref.expected.cox!;
    expect([out.cox!.reference, out.cox!.group]).toEqual(['Maintained', 'Nonmaintained']);
    expectClose(out.cox!.hr, cx.hr, 1e-6, 'hr');
    expectClose(out.cox!.lower, cx.hr_lower95, 1e-6, 'hr lower');
    expectClose(out.cox!.upper, cx.hr_upper95, 1e-6, 'hr upper');
    expectClose(out.cox!.p, cx.wald_p, 1e-6, 'cox p');
  });

  it('--conf-type log-log and --times change the bands and the landmarks', async () => {
    const ref = referenceCases().find((c) => c.name === 'three_arms')!;
    const { code, stdout } = await km([
      '--csv',
      join(REFERENCE_DIR, 'three_arms.csv'),
      '--conf-type',
      'log-log',
      '--times',
      '12,24',
      '--json',
    ]);
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as SurvivalAnalysis;
    const a = out.groups[0]!;
    const exp = ref.expected.groups.A!;
    expect(a.survival.map((s) => s.time)).toEqual([12, 24]);
    expectClose(a.medianLower, exp.median_lower95_loglog, 1e-9, 'loglog lower');
    expectClose(a.medianUpper, exp.median_upper95_loglog, 1e-9, 'loglog upper');
    expectClose(a.survival[0]!.lower, exp.survival_at[0]!.lower95_loglog, 1e-9, 'S(12) loglog lower');
    expect(out.logRank!.df).toBe(2);
    expect(out.cox).toBeNull();
  });

  it('prints a readable table without --json', async () => {
    const { code, stdout } = await km(['--csv', join(REFERENCE_DIR, 'aml_weeks.csv')]);
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    expect(lines[0]).toMatch(/^group\s+n\s+events\s+median \(95% CI\)\s+S\(12\) \(95% CI\)/);
    expect(stdout).toMatch(/^Maintained\s+11\s+7\s+31 \(18-NR\)\s+0\.909 \(0\.754-1\.000\)/m);
    expect(stdout).toMatch(/^Nonmaintained\s+12\s+11\s+23 \(8-NR\)/m);
    expect(stdout).toMatch(/^Log-rank: chi-square 3\.396 on 1 df, p = 0\.0653$/m);
    expect(stdout).toMatch(
      /^Cox \(Efron\): HR Nonmaintained vs Maintained = 2\.498 \(95% CI 0\.916-6\.813\)/m,
    );
  });

  it('exits 2 with the line number on bad input', async () => {
    const bad = csvFile('bad.csv', 'group,time,event\nA,1,1\nA,soon,0\n');
    const neg = csvFile('neg.csv', 'time,group,event\r\n1,A,1\r\n-2,A,0\r\n');
    const missing = csvFile('missing.csv', 'group,time\nA,1\n');
    const empty = csvFile('empty.csv', '');
    const [r1, r2, r3, r4, r5] = await Promise.all([
      km(['--csv', bad]),
      km(['--csv', neg, '--json']),
      km(['--csv', missing]),
      km(['--csv', empty]),
      km(['--csv', join(REFERENCE_DIR, 'aml_weeks.csv'), '--conf-type', 'logit']),
    ]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toBe(`survflow: ${bad}: line 3: time "soon" is not a number\n`);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/line 3: time -2 is negative/);
    expect(r2.stdout).toBe('');
    expect(r3.code).toBe(2);
    expect(r3.stderr).toMatch(/line 1: missing column "event"/);
    expect(r4.code).toBe(2);
    expect(r4.stderr).toMatch(/empty file/);
    expect(r5.code).toBe(2);
    expect(r5.stderr).toMatch(/--conf-type must be one of log, log-log, plain/);
  });
});
