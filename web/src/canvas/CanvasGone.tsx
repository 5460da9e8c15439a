import { Link } from "react-router";

/** The canvas was deleted, or its owner stopped sharing it, while it was open (or before
 * the link was followed): said plainly, with the way back. */
export function CanvasGone({ name }: { name?: string }) {
  return (
    <section className="page-message" role="alert">
      <h1>{name === undefined ? "This canvas is not available" : `“${name}” is not available`}</h1>
      <p>This canvas was deleted or is no longer shared with you.</p>
      <p>
        <Link to="/">Back to your canvases</Link>
      </p>
    </section>
  );
}
