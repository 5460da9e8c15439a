import type { UploadedImage } from "./uploaded";

/** The images uploaded in this session, newest first, each with the digest a node names it by. */
export function UploadedGallery({ images }: { images: readonly UploadedImage[] }) {
  if (images.length === 0) {
    return <p className="status">Nothing uploaded in this session yet.</p>;
  }
  return (
    <ul className="uploaded-gallery" aria-label="Uploaded this session">
      {images.map((image) => (
        <li key={image.sha256}>
          <figure>
            <img src={image.thumbnailUrl} alt={image.name} loading="lazy" />
            <figcaption>
              <span className="uploaded-gallery__name">{image.name}</span>
              <span className="meta">
                {String(image.width)} × {String(image.height)}
              </span>
              <code title={image.sha256}>{image.sha256.slice(0, 12)}…</code>
            </figcaption>
          </figure>
        </li>
      ))}
    </ul>
  );
}
