/**
 * Exact decimal strings to integer units and back: prices become ticks and quantities lots
 * without floating-point error ("0.1" + "0.2" is 3 units at scale 1, never 0.30000000000000004).
 * Exchanges send prices and sizes as decimal strings; the book keeps integers.
 *
 * @module
 */

/**
 * `text` (like `"27012.50"` or `"0.00100000"`) as an integer count of 10^-`scale`: `"27012.50"`
 * at scale 2 is 2701250. Digits beyond `scale` must be zeros; throws a RangeError otherwise, or
 * when the result is not a safe integer, or the text is not a plain decimal.
 */
export function toUnits(text: string, scale: number): number {
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(text);
  if (m === null || (m[2] === "" && (m[3] ?? "") === "")) {
    throw new RangeError(`"${text}" is not a decimal number`);
  }
  const whole = m[2] || "0", frac = m[3] ?? "";
  if (frac.length > scale && !/^0*$/.test(frac.slice(scale))) {
    throw new RangeError(`"${text}" has more than ${scale} decimals`);
  }
  const digits = whole + frac.slice(0, scale).padEnd(scale, "0");
  const n = Number(digits);
  if (!Number.isSafeInteger(n)) throw new RangeError(`"${text}" is too large at scale ${scale}`);
  return m[1] === "-" ? -n : n;
}

/** Integer `units` of 10^-`scale` as a decimal string with exactly `scale` decimals. */
export function fromUnits(units: number, scale: number): string {
  const negative = units < 0;
  const digits = String(Math.abs(units)).padStart(scale + 1, "0");
  const text = scale === 0
    ? digits
    : `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
  return negative ? `-${text}` : text;
}

/** How many decimals `text` has (`"0.00100"` → 5): a feed's scale, from its tick size. */
export function decimalsOf(text: string): number {
  const dot = text.indexOf(".");
  return dot < 0 ? 0 : text.length - dot - 1;
}
