// The colour scale both reports use for norms: white where a vector is near zero
// (that token barely changes the weights, as the paper's Fig. 5 shows it) through
// orange to dark red at the grid's largest norm.

export type Rgb = readonly [number, number, number];

const STOPS: readonly Rgb[] = [
  [255, 255, 255],
  [254, 224, 144],
  [253, 141, 60],
  [215, 48, 31],
  [127, 0, 0],
];

/** Position of `value` on a scale from 0 to `max`, clamped to [0, 1]. */
export function unit(value: number, max: number): number {
  return max > 0 && Number.isFinite(value) ? Math.min(1, Math.max(0, value / max)) : 0;
}

/** The colour at t in [0, 1], interpolated between the stops. */
export function rampColor(t: number): Rgb {
  const x = Math.min(1, Math.max(0, t)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const [a, b] = [STOPS[i]!, STOPS[i + 1]!];
  const mix = (c: number) => Math.round(a[c]! + (b[c]! - a[c]!) * f);
  return [mix(0), mix(1), mix(2)];
}

/** Whether text on this background reads better white than black (relative luminance). */
export function needsLightText([r, g, b]: Rgb): boolean {
  return 0.2126 * r + 0.7152 * g + 0.0722 * b < 128;
}

export function cssColor([r, g, b]: Rgb): string {
  return `rgb(${r},${g},${b})`;
}
