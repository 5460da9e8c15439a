import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type SyntheticEvent } from "react";

import {
  listShares,
  shareCanvas,
  type CanvasSummary,
  type Share,
  type ShareAccess,
} from "../api/canvases";
import { Dialog } from "../app/Dialog";
import { ErrorAlert } from "../app/ErrorAlert";
import { sharesKey } from "./canvasQueries";

const ACCESS_WORDS = { read: "can view", write: "can edit" } as const;

/** "Share <name>": the owner grants a person, named by user name or email, read or write
 * access, and sees and removes the current shares. Nobody can list the studio's users: a
 * name that matches no one is simply refused. */
export function ShareDialog({ canvas, onClose }: { canvas: CanvasSummary; onClose: () => void }) {
  const queries = useQueryClient();
  const [user, setUser] = useState("");
  const [access, setAccess] = useState<Exclude<ShareAccess, "none">>("read");
  const shares = useQuery({
    queryKey: sharesKey(canvas.id),
    queryFn: () => listShares(canvas.id),
  });
  const change = useMutation({
    mutationFn: (grant: { user: string; access: ShareAccess }) =>
      shareCanvas(canvas.id, grant.user, grant.access),
    onSuccess: (_answer, grant) => {
      if (grant.access !== "none") setUser("");
      void queries.invalidateQueries({ queryKey: sharesKey(canvas.id) });
    },
  });

  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const who = user.trim();
    if (who !== "") change.mutate({ user: who, access });
  };

  return (
    <Dialog title={`Share ${canvas.name}`} onDismiss={onClose} className="share">
      <form className="share-form" onSubmit={submit}>
        <label className="grow">
          User name or email
          <input
            value={user}
            required
            maxLength={254}
            autoComplete="off"
            spellCheck={false}
            data-autofocus
            onChange={(event) => {
              setUser(event.target.value);
            }}
          />
        </label>
        <label>
          Access
          <select
            value={access}
            onChange={(event) => {
              setAccess(event.target.value === "write" ? "write" : "read");
            }}
          >
            <option value="read">Can view</option>
            <option value="write">Can edit</option>
          </select>
        </label>
        <button type="submit" className="primary" disabled={change.isPending}>
          Share
        </button>
      </form>
      <ErrorAlert error={change.error} />
      <h3>Shared with</h3>
      <SharesList
        shares={shares.data}
        error={shares.error}
        onRemove={(share) => {
          change.mutate({ user: share.user_name, access: "none" });
        }}
        busy={change.isPending}
      />
      <div className="actions">
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}

interface SharesListProps {
  shares: Share[] | undefined;
  error: Error | null;
  onRemove: (share: Share) => void;
  busy: boolean;
}

function SharesList({ shares, error, onRemove, busy }: SharesListProps) {
  if (error !== null) return <ErrorAlert error={error} />;
  if (shares === undefined) return <p className="status">Loading…</p>;
  if (shares.length === 0) return <p className="status">Only you, so far.</p>;
  return (
    <ul className="shares">
      {shares.map((share) => (
        <li key={share.user_id}>
          <span className="share-user">{share.user_name}</span>
          <span className="meta">{ACCESS_WORDS[share.access]}</span>
          <button
            type="button"
            className="danger-quiet"
            aria-label={`Remove ${share.user_name}`}
            disabled={busy}
            onClick={() => {
              onRemove(share);
            }}
          >
            Remove
          </button>
        </li>
      ))}
    </ul>
  );
}
