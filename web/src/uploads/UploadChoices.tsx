import { useUploadedImages } from "./studioUploads";

/** The images uploaded in this session as the choices of a blob-id field (`<input list>`):
 * each offered by its digest, labelled with its file name and size. */
export function UploadChoices({ id }: { id: string }) {
  const images = useUploadedImages();
  return (
    <datalist id={id}>
      {images.map((image) => (
        <option key={image.sha256} value={image.sha256} label={`${image.name} (${String(image.width)} × ${String(image.height)})`} />
      ))}
    </datalist>
  );
}
