import { useState } from "react";

import type { NewKey } from "../api/keys";

type Copy = "idle" | "copied" | "failed";

/** The new key's secret, shown this once: copy it now, or make another key later. */
export function NewKeySecret({ newKey, onDone }: { newKey: NewKey; onDone: () => void }) {
  const [copy, setCopy] = useState<Copy>("idle");
  const copyKey = () => {
    navigator.clipboard.writeText(newKey.key).then(
      () => {
        setCopy("copied");
      },
      () => {
        setCopy("failed");
      },
    );
  };

  return (
    <section className="new-key-secret" aria-labelledby="secret-title">
      <h2 id="secret-title">Your new key “{newKey.name}”</h2>
      <p className="warning">
        Copy it now and keep it somewhere safe: <strong>you will not see it again.</strong>
      </p>
      <div className="secret">
        <code aria-label="New API key">{newKey.key}</code>
        <button type="button" onClick={copyKey}>
          Copy key
        </button>
      </div>
      <p role="status" className="status">
        {copy === "copied" && "Copied to the clipboard."}
        {copy === "failed" && "The browser refused to copy: select the key and copy it."}
      </p>
      <button type="button" className="primary" onClick={onDone}>
        Done
      </button>
    </section>
  );
}
