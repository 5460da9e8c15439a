// What the rows of an upload say of themselves: each row's status, and the whole upload's count.

import type { UploadRow } from "./queue";

/** What a row says of where it is. */
export function statusOf(row: UploadRow): string {
  switch (row.state) {
    case "waiting":
      return "Waiting";
    case "sending":
      if (row.sent >= row.total) return "Processing";
      return `Sending, ${String(percentOf(row))} %`;
    case "done":
      return row.blob?.duplicate === true ? "Uploaded before" : "Uploaded";
    case "refused":
      return "Refused";
    case "failed":
      return "Failed";
    case "cancelled":
      return "Cancelled";
  }
}

function percentOf(row: UploadRow): number {
  return row.total === 0 ? 0 : Math.min(100, Math.floor((row.sent / row.total) * 100));
}

/** "48 uploaded · 2 sending · 1 refused": the counts that are not zero, in the rows' order of
 * life. */
export function summaryOf(rows: readonly UploadRow[]): string {
  const counts = new Map<UploadRow["state"], number>();
  for (const row of rows) counts.set(row.state, (counts.get(row.state) ?? 0) + 1);
  const parts: [UploadRow["state"], string][] = [
    ["done", "uploaded"],
    ["sending", "sending"],
    ["waiting", "waiting"],
    ["refused", "refused"],
    ["failed", "failed"],
    ["cancelled", "cancelled"],
  ];
  return parts
    .flatMap(([state, word]) => {
      const count = counts.get(state) ?? 0;
      return count === 0 ? [] : [`${String(count)} ${word}`];
    })
    .join(" · ");
}
