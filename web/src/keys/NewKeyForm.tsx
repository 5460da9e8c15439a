import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type SyntheticEvent } from "react";

import { createKey, SCOPES, type KeyRequest, type NewKey, type Scope } from "../api/keys";
import { ErrorAlert } from "../app/ErrorAlert";
import { useIdentity } from "../app/session";
import { KEYS_KEY } from "./keyQueries";

const SCOPE_HINTS: Record<Scope, string> = {
  read: "read canvases, results and renders",
  write: "change them and run work",
  admin: "manage users and everyone's keys",
};

// Days; 0 is a key that lives until it is revoked.
const LIFETIMES = [
  { days: 0, label: "Never" },
  { days: 7, label: "In 7 days" },
  { days: 30, label: "In 30 days" },
  { days: 90, label: "In 90 days" },
  { days: 365, label: "In a year" },
] as const;

/** Makes a key; the secret goes to `onCreated` and nowhere else (never the query cache). */
export function NewKeyForm({ onCreated }: { onCreated: (key: NewKey) => void }) {
  const identity = useIdentity();
  const queries = useQueryClient();
  const offered = SCOPES.filter((scope) => scope !== "admin" || identity.scopes.includes("admin"));
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<Scope[]>(["read", "write"]);
  const [days, setDays] = useState(90);
  const create = useMutation({
    mutationFn: (key: KeyRequest) => createKey(key),
    onSuccess: (key) => {
      setName("");
      void queries.invalidateQueries({ queryKey: KEYS_KEY });
      onCreated(key);
    },
  });

  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const key: KeyRequest = { name: name.trim(), scopes };
    if (days > 0) key.expires_in_days = days;
    if (key.name !== "" && scopes.length > 0) create.mutate(key);
  };

  return (
    <form className="form new-key" onSubmit={submit} aria-labelledby="new-key-title">
      <h2 id="new-key-title">New key</h2>
      <label>
        Key name
        <input
          value={name}
          required
          maxLength={100}
          placeholder="What uses it: CI, a render farm…"
          onChange={(event) => {
            setName(event.target.value);
          }}
        />
      </label>
      <fieldset>
        <legend>Scopes</legend>
        {offered.map((scope) => (
          <label key={scope} className="check">
            <input
              type="checkbox"
              checked={scopes.includes(scope)}
              onChange={(event) => {
                const on = event.target.checked;
                setScopes((now) =>
                  on
                    ? SCOPES.filter((s) => s === scope || now.includes(s))
                    : now.filter((s) => s !== scope),
                );
              }}
            />
            <span>
              {scope} <span className="hint">— {SCOPE_HINTS[scope]}</span>
            </span>
          </label>
        ))}
        {scopes.length === 0 && <p className="error">Choose at least one scope.</p>}
      </fieldset>
      <label>
        Expires
        <select
          value={days}
          onChange={(event) => {
            setDays(Number(event.target.value));
          }}
        >
          {LIFETIMES.map((lifetime) => (
            <option key={lifetime.days} value={lifetime.days}>
              {lifetime.label}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" className="primary" disabled={create.isPending || scopes.length === 0}>
        Create key
      </button>
      <ErrorAlert error={create.error} />
    </form>
  );
}
