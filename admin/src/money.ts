/**
 * Money formatting for integer fen (1/100 yuan). Integer arithmetic only (BigInt): amounts are
 * never turned into floating-point yuan for display, so no rounding can creep into a label.
 */

const SYMBOLS: Record<string, string> = { CNY: "¥" };

/** Groups the digits of a non-negative integer string with commas: "1234567" → "1,234,567". */
function group(digits: string): string {
  let out = "";
  for (let i = 0; i < digits.length; i++) {
    const left = digits.length - i;
    out += digits[i];
    if (left > 1 && left % 3 === 1) out += ",";
  }
  return out;
}

/**
 * Formats integer fen: 123456 → "¥1,234.56", -5 → "-¥0.05". Non-integers are refused (they
 * would mean a float slipped in somewhere): the result is then "—".
 */
export function formatFen(fen: number | bigint, currency = "CNY"): string {
  if (typeof fen === "number" && !Number.isSafeInteger(fen)) return "—";
  const v = BigInt(fen);
  const negative = v < 0n;
  const abs = negative ? -v : v;
  const yuan = abs / 100n;
  const cents = abs % 100n;
  const symbol = SYMBOLS[currency] ?? `${currency} `;
  return `${negative ? "-" : ""}${symbol}${group(yuan.toString())}.${cents.toString().padStart(2, "0")}`;
}

/** Fen as a yuan number, for chart axes only (never for text). */
export function fenToYuanForChart(fen: number): number {
  return fen / 100;
}
