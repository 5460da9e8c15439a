import { usePageTitle } from "../app/pageTitle";
import { useIdentity } from "../app/session";
import { DropZone } from "./DropZone";
import { useUploadedImages, useUploadQueue } from "./studioUploads";
import { UploadedGallery } from "./UploadedGallery";
import { UploadList } from "./UploadList";
import "./uploads.css";

/** `/uploads`: reference images for characters and scenes, dropped or chosen many at once,
 * each file with its own progress and outcome; then the session's uploads, which a node's
 * image field in the canvas editor offers. */
export function UploadsPage() {
  usePageTitle("Reference images");
  const { user_id: userId } = useIdentity();
  const { queue, rows } = useUploadQueue(userId);
  const images = useUploadedImages();

  return (
    <section className="uploads-page">
      <div className="page-head">
        <h1>Reference images</h1>
      </div>
      <p className="lede">
        Pictures of characters and backdrops for your canvases. Uploads go on while you work on
        other pages, and a node&apos;s image field offers the images uploaded here.
      </p>
      <DropZone
        onFiles={(files) => {
          queue.add(files);
        }}
      />
      {rows.length > 0 && <UploadList rows={rows} queue={queue} />}
      <h2>Uploaded this session</h2>
      <UploadedGallery images={images} />
    </section>
  );
}
