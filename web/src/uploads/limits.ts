// What the browser can tell about a file before sending it: its size and the type it claims.
// The server checks both again, and the content itself (a file named .png that is not one is
// refused there, with its reason).

/** The gateway's and image service's limit when not configured otherwise
 * (libs/config.py MAX_UPLOAD_BYTES; SHOTGRAPH_MAX_UPLOAD_BYTES). A deployment with a lower
 * limit refuses bigger files with a 413, which the row shows in the same way. */
export const MAX_UPLOAD_BYTES = 50 * 1024 * 1024;

/** The formats the image service stores (services/image/uploads.py). */
export const ACCEPTED_TYPES: ReadonlySet<string> = new Set([
  "image/png",
  "image/jpeg",
  "image/webp",
  "image/gif",
  "image/tiff",
]);

const ACCEPTED_NAMES = "PNG, JPEG, WebP, GIF or TIFF";

/** What a row knows of its file: enough to check it and to show it. */
export interface FileFacts {
  name: string;
  size: number;
  /** The MIME type the browser gives it; "" when it cannot tell. */
  type: string;
}

/** Why `file` is refused without sending it, or null to send it. A file of unknown type ("")
 * is sent: the server reads what it is. */
export function refusalOf(file: FileFacts, maxBytes = MAX_UPLOAD_BYTES): string | null {
  if (file.size === 0) return "The file is empty.";
  if (file.size > maxBytes) {
    return `The file is ${formatBytes(file.size)}: larger than the ${formatBytes(maxBytes)} limit.`;
  }
  if (file.type === "" || ACCEPTED_TYPES.has(file.type)) return null;
  if (file.type.startsWith("image/")) {
    return `${typeName(file.type)} images are not accepted: use ${ACCEPTED_NAMES}.`;
  }
  return `Not an image (${file.type}): use ${ACCEPTED_NAMES}.`;
}

/** "image/svg+xml" -> "SVG". */
function typeName(type: string): string {
  const subtype = type.slice(type.indexOf("/") + 1).split("+")[0] ?? type;
  return subtype.toUpperCase();
}

const UNITS = ["bytes", "KB", "MB", "GB"] as const;

/** A size as people read it, in binary multiples named as file managers name them: "1.5 MB". */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${String(value)} ${value === 1 ? "byte" : "bytes"}`;
  const digits = value < 100 && !Number.isInteger(value) ? 1 : 0;
  return `${value.toFixed(digits)} ${UNITS[unit] ?? ""}`;
}
