import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";

import { revokeKey, type ApiKey, type NewKey } from "../api/keys";
import { ConfirmDialog } from "../app/ConfirmDialog";
import { usePageTitle } from "../app/pageTitle";
import { PagedList } from "../app/PagedList";
import { formatWhen } from "../app/time";
import { keyListQuery, KEYS_KEY } from "./keyQueries";
import { NewKeyForm } from "./NewKeyForm";
import { NewKeySecret } from "./NewKeySecret";
import "./keys.css";

/** `/keys`: the person's API keys for programs: make one (its secret shown once), see them
 * all, revoke one. */
export function KeysPage() {
  usePageTitle("API keys");
  const [created, setCreated] = useState<NewKey | null>(null);
  const list = useInfiniteQuery(keyListQuery);
  const keys = list.data?.pages.flatMap((page) => page.keys) ?? [];

  return (
    <section className="keys-page">
      <div className="page-head">
        <h1>API keys</h1>
      </div>
      <p className="lede">
        A key lets a program call the Shotgraph API as you, with only the scopes you give it.
      </p>
      {created === null ? (
        <NewKeyForm onCreated={setCreated} />
      ) : (
        <NewKeySecret
          newKey={created}
          onDone={() => {
            setCreated(null);
          }}
        />
      )}
      <h2>Your keys</h2>
      <PagedList
        list={list}
        count={keys.length}
        loading="Loading keys…"
        empty={<p className="status">No keys yet.</p>}
      >
        <ul className="row-list">
          {keys.map((key) => (
            <KeyRow key={key.key_id} apiKey={key} />
          ))}
        </ul>
      </PagedList>
    </section>
  );
}

function keyState(key: ApiKey): string {
  if (key.revoked_at !== undefined) return `Revoked ${formatWhen(key.revoked_at)}`;
  if (key.expires_at === undefined) return "Never expires";
  const expired = new Date(key.expires_at).getTime() <= Date.now();
  return `${expired ? "Expired" : "Expires"} ${formatWhen(key.expires_at)}`;
}

function KeyRow({ apiKey }: { apiKey: ApiKey }) {
  const queries = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const revoke = useMutation({
    mutationFn: () => revokeKey(apiKey.key_id),
    onSuccess: () => {
      setConfirming(false);
      void queries.invalidateQueries({ queryKey: KEYS_KEY });
    },
  });
  const revoked = apiKey.revoked_at !== undefined;

  return (
    <li className={revoked ? "key-row revoked" : "key-row"}>
      <div>
        <span className="key-name">{apiKey.name}</span>{" "}
        <code className="key-prefix" title="The key's first characters">
          {apiKey.prefix}…
        </code>
        <div className="meta">
          {apiKey.scopes.join(", ")} · created {formatWhen(apiKey.created_at)} ·{" "}
          {apiKey.last_used_at === undefined
            ? "never used"
            : `last used ${formatWhen(apiKey.last_used_at)}`}{" "}
          · {keyState(apiKey)}
        </div>
      </div>
      {!revoked && (
        <button
          type="button"
          className="danger-quiet"
          aria-label={`Revoke ${apiKey.name}`}
          onClick={() => {
            setConfirming(true);
          }}
        >
          Revoke
        </button>
      )}
      {confirming && (
        <ConfirmDialog
          title={`Revoke ${apiKey.name}?`}
          confirmLabel="Revoke"
          onConfirm={() => {
            revoke.mutate();
          }}
          onCancel={() => {
            setConfirming(false);
          }}
          pending={revoke.isPending}
          error={revoke.error}
        >
          <p>Programs using this key are refused from now on. This cannot be undone.</p>
        </ConfirmDialog>
      )}
    </li>
  );
}
