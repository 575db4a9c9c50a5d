const REPLACEMENTS: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

// Characters XML 1.0 forbids even when escaped (C0 controls other than tab, newline, return).
// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
const FORBIDDEN_IN_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

/**
 * Escapes text for SVG/XML and HTML, in element content and in double- or single-quoted
 * attribute values alike. Group labels, run parameters and attrition reasons are data, so every
 * piece of text that reaches the markup goes through here.
 */
export function escapeMarkup(text: string): string {
  return text.replace(FORBIDDEN_IN_XML, '').replace(/[&<>"']/g, (c) => REPLACEMENTS[c] ?? c);
}
