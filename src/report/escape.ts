// Token text is arbitrary model output (`<`, `&`, quotes, `</script>`): everything
// that goes into the HTML report passes through here.

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Safe in element content and in quoted attribute values. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** JSON text (any piece of it) for a <script type="application/json"> block: no `</script>` or `<!--` can end it early. */
export function scriptSafe(json: string): string {
  return json.replace(/</g, '\\u003c');
}
