/**
 * A small RFC 4180 CSV reader: comma separated, fields optionally in double quotes, `""` for a
 * quote inside quotes, quoted fields may span lines, CRLF or LF line ends, an optional UTF-8
 * BOM. Each record keeps the (1-based) line it starts on, for error messages.
 */

export type CsvRecord = { line: number; fields: string[]; text: string };
export type CsvProblem = { line: number; message: string; text: string };

export function parseCsv(input: string): { records: CsvRecord[]; problems: CsvProblem[] } {
  const text = input.startsWith('\uFEFF') ? input.slice(1) : input;
  const records: CsvRecord[] = [];
  const problems: CsvProblem[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const startLine = line;
    const start = i;
    const fields: string[] = [];
    let field = '';
    let quoted = false;
    let fieldStarted = false;
    let problem: string | undefined;
    for (;;) {
      if (i >= text.length) {
        if (quoted) problem = 'unterminated quoted field';
        fields.push(field);
        break;
      }
      const ch = text[i] as string;
      if (quoted) {
        if (ch === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          quoted = false;
          i++;
          continue;
        }
        if (ch === '\n') line++;
        field += ch;
        i++;
        continue;
      }
      if (ch === '"' && !fieldStarted) {
        quoted = true;
        fieldStarted = true;
        i++;
        continue;
      }
      if (ch === ',') {
        fields.push(field);
        field = '';
        fieldStarted = false;
        i++;
        continue;
      }
      if (ch === '\r' && text[i + 1] === '\n') i++;
      if (ch === '\n' || ch === '\r') {
        fields.push(field);
        i++;
        line++;
        break;
      }
      if (ch === '"') problem ??= 'a quote inside an unquoted field';
      field += ch;
      fieldStarted = true;
      i++;
    }
    const raw = text.slice(start, i).replace(/\r?\n$/, '');
    if (problem) problems.push({ line: startLine, message: problem, text: raw });
    else if (!(fields.length === 1 && fields[0] === '')) records.push({ line: startLine, fields, text: raw });
  }
  return { records, problems };
}
