import { DOMParser, type Element as XmlElement } from '@xmldom/xmldom';

/** Parses an SVG string as strict XML; any parser warning or error fails the test. */
export function parseSvg(svg: string): XmlElement {
  const problems: string[] = [];
  const document = new DOMParser({
    onError: (level, message) => {
      problems.push(`${level}: ${message}`);
    },
  }).parseFromString(svg, 'image/svg+xml');
  if (problems.length > 0) throw new Error(`SVG is not well-formed:\n${problems.join('\n')}`);
  const root = document.documentElement;
  if (!root) throw new Error('SVG has no root element');
  return root;
}

/** Every descendant element named `tag` (any namespace) whose class list contains `className`. */
export function byClass(root: XmlElement, tag: string, className: string): XmlElement[] {
  return Array.from(root.getElementsByTagName(tag)).filter((el) =>
    (el.getAttribute('class') ?? '').split(/\s+/).includes(className),
  );
}

export function textOf(el: XmlElement): string {
  return el.textContent ?? '';
}

/** The absolute coordinates a path visits, for paths made of M, H, V and v commands only. */
export function pathPoints(d: string): { x: number; y: number }[] {
  const points: { x: number; y: number }[] = [];
  let x = 0;
  let y = 0;
  for (const [, command, args] of d.matchAll(/([MHVvZ])([^MHVvZ]*)/g)) {
    const values = (args ?? '').split(/[ ,]+/).filter(Boolean).map(Number);
    if (command === 'M') [x, y] = [values[0] as number, values[1] as number];
    else if (command === 'H') x = values[0] as number;
    else if (command === 'V') y = values[0] as number;
    else if (command === 'v') y += values[0] as number;
    else if (command === 'Z') continue;
    points.push({ x, y });
  }
  return points;
}
