/** Display helpers for times and days (UTC days match the API's stats and filters). */
import { getLang } from "./i18n";

/** An RFC 3339 time in the reader's locale and time zone; "—" when absent. */
export function formatTime(s: string | null | undefined): string {
  if (!s) return "—";
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return s;
  return d.toLocaleString(getLang(), { hour12: false });
}

/** `YYYY-MM-DD` of a Date in UTC. */
export function utcDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** `YYYY-MM-DD` `n` days after `day` (negative: before). */
export function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return utcDay(d);
}

/** RFC 3339 of a UTC day's start, for `from`/`to` filters. */
export function dayStart(day: string): string {
  return `${day}T00:00:00Z`;
}

/** A `datetime-local` value (the reader's zone) as RFC 3339 UTC; "" when blank or invalid. */
export function localToRfc3339(value: string): string {
  if (!value) return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}
