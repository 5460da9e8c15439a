import { useState, type SyntheticEvent } from "react";

import { ErrorAlert } from "../app/ErrorAlert";

interface NameFormProps {
  /** The input's label, which is its accessible name. */
  label: string;
  /** The name to start from; when there is one, focusing the input selects it to be typed over. */
  initialName?: string;
  submitLabel: string;
  className: string;
  pending: boolean;
  error: unknown;
  /** The name, trimmed; never called with an empty one. */
  onSubmit: (name: string) => void;
  /** Cancel or Escape. */
  onCancel: () => void;
}

/** A canvas's name, typed in place: the form that creates a canvas and the one that renames it. */
export function NameForm({
  label,
  initialName = "",
  submitLabel,
  className,
  pending,
  error,
  onSubmit,
  onCancel,
}: NameFormProps) {
  const [name, setName] = useState(initialName);

  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const trimmed = name.trim();
    if (trimmed !== "") onSubmit(trimmed);
  };

  return (
    <form className={`name-form ${className}`} onSubmit={submit}>
      <label>
        {label}
        <input
          value={name}
          required
          maxLength={200}
          autoFocus
          onFocus={
            initialName === ""
              ? undefined
              : (event) => {
                  event.currentTarget.select();
                }
          }
          onChange={(event) => {
            setName(event.target.value);
          }}
          onKeyDown={(event) => {
            if (event.key === "Escape") onCancel();
          }}
        />
      </label>
      <button type="submit" className="primary" disabled={pending}>
        {submitLabel}
      </button>
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
      <ErrorAlert error={error} />
    </form>
  );
}
