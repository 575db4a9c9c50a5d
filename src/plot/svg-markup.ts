import { escapeMarkup } from '../util/escape-markup.js';

/**
 * A few helpers to write SVG as text. Coordinates are rounded to two decimals so that the output
 * is short and identical for identical input on every platform.
 */

export type Attributes = Record<string, string | number | undefined>;

/** A coordinate or length: at most two decimals, no trailing zeros, never "-0". */
export function coordinate(value: number): string {
  const rounded = Math.round(value * 100) / 100;
  return String(rounded === 0 ? 0 : rounded);
}

function attributeText(attributes: Attributes): string {
  let text = '';
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined) continue;
    const rendered = typeof value === 'number' ? coordinate(value) : escapeMarkup(value);
    text += ` ${name}="${rendered}"`;
  }
  return text;
}

/** An element; `children` is markup (already escaped), omitted for an empty element. */
export function element(tag: string, attributes: Attributes, children?: string): string {
  const open = `<${tag}${attributeText(attributes)}`;
  return children === undefined ? `${open}/>` : `${open}>${children}</${tag}>`;
}

/** A text element whose content is plain text (escaped here). */
export function textElement(attributes: Attributes, text: string): string {
  return element('text', attributes, escapeMarkup(text));
}

/**
 * A rough width of a text in Helvetica/Arial, for layout only (SVG has no text measurement
 * without a browser). Deliberately generous: 0.6 em per character.
 */
export function estimatedTextWidth(text: string, fontSize: number): number {
  return text.length * fontSize * 0.6;
}
