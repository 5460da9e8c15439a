const WHEN = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** An API timestamp (RFC 3339) as a person reads it; "" when there is none. */
export function formatWhen(stamp: string | undefined): string {
  if (stamp === undefined || stamp === "") return "";
  const date = new Date(stamp);
  return Number.isNaN(date.getTime()) ? "" : WHEN.format(date);
}
