// Where to go after signing in: the page that sent the person to sign in, given in
// `?next=`. Only a path of this site is followed; anything else (another origin, a
// protocol-relative `//host`, a backslash a browser reads as a slash, control characters a
// browser strips) goes to the canvas list, so a crafted sign-in link cannot send a person
// elsewhere after they sign in.

const HOME = "/";
const BASE = "https://studio.invalid";
// The pages that lead back here: following them again would loop.
const NOT_NEXT = new Set(["/signin"]);

export function safeNext(next: string | null | undefined): string {
  if (next === null || next === undefined) return HOME;
  if (!next.startsWith("/") || next.startsWith("//")) return HOME;
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (/[\\\u0000-\u001f\u007f]/.test(next)) return HOME;
  let url: URL;
  try {
    url = new URL(next, BASE);
  } catch {
    return HOME;
  }
  if (url.origin !== BASE || NOT_NEXT.has(url.pathname)) return HOME;
  return url.pathname + url.search + url.hash;
}
