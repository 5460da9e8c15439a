import { useId, useState, type ReactNode } from "react";

import { ColourInput } from "./ColourInput";
import {
  choiceIndex,
  type BooleanField,
  parseNumber,
  valueOf,
  type ChoiceField,
  type CustomizerField,
  type CustomizerGroup,
  type NumberField,
  type TextField,
  type VectorField,
} from "./customizer";

export interface CustomizerFormProps {
  groups: readonly CustomizerGroup[];
  values: Readonly<Record<string, unknown>>;
  readOnly: boolean;
  onValue: (name: string, value: unknown) => void;
}

interface FieldProps<F extends CustomizerField> {
  field: F;
  value: unknown;
  disabled: boolean;
  onValue: (value: unknown) => void;
}

/** A label, the field, its description and (when it refuses what was typed) why. */
function Labelled({
  field,
  children,
  error,
}: {
  field: CustomizerField;
  children: (ids: { input: string; describedBy: string | undefined }) => ReactNode;
  error?: string | undefined;
}) {
  const id = useId();
  const hint = field.description === "" ? undefined : `${id}-hint`;
  const message = error === undefined ? undefined : `${id}-message`;
  const describedBy = [hint, message].filter((part) => part !== undefined).join(" ") || undefined;
  return (
    <div className="sp-field">
      <label className="sp-field__label" htmlFor={`${id}-input`}>
        {field.name}
      </label>
      {children({ input: `${id}-input`, describedBy })}
      {hint !== undefined && (
        <p className="sp-hint" id={hint}>
          {field.description}
        </p>
      )}
      {message !== undefined && (
        <p className="sp-field__error" id={message}>
          {error}
        </p>
      )}
    </div>
  );
}

/** Text typed into a field that the field may refuse: kept (and marked) until it is good. */
function useDraft(value: unknown) {
  const [draft, setDraft] = useState<{ text: string; message?: string }>();
  const [seen, setSeen] = useState(value);
  if (value !== seen) {
    setSeen(value);
    if (draft?.message === undefined) setDraft(undefined);
  }
  return [draft, setDraft] as const;
}

function NumberInput({ field, value, disabled, onValue }: FieldProps<NumberField>) {
  const [draft, setDraft] = useDraft(value);
  const text = draft?.text ?? (typeof value === "number" ? String(value) : "");
  if (field.kind === "slider") {
    const number = typeof value === "number" ? value : Number(field.defaultValue);
    return (
      <Labelled field={field}>
        {({ input, describedBy }) => (
          <span className="sp-slider">
            <input
              id={input}
              type="range"
              min={field.min}
              max={field.max}
              step={field.step ?? "any"}
              value={number}
              disabled={disabled}
              aria-describedby={describedBy}
              onChange={(event) => {
                onValue(Number(event.currentTarget.value));
              }}
            />
            <output htmlFor={input}>{String(number)}</output>
          </span>
        )}
      </Labelled>
    );
  }
  return (
    <Labelled field={field} error={draft?.message}>
      {({ input, describedBy }) => (
        <input
          id={input}
          type="text"
          inputMode="decimal"
          value={text}
          disabled={disabled}
          aria-invalid={draft?.message === undefined ? undefined : true}
          aria-describedby={describedBy}
          onChange={(event) => {
            const typed = event.currentTarget.value;
            const parsed = parseNumber(field, typed);
            if (parsed.ok) {
              setDraft({ text: typed });
              onValue(parsed.value);
            } else {
              setDraft({ text: typed, message: parsed.message });
            }
          }}
          onBlur={() => {
            if (draft?.message === undefined) setDraft(undefined);
          }}
        />
      )}
    </Labelled>
  );
}

const AXES = ["x", "y", "z", "w"];

function VectorInput({ field, value, disabled, onValue }: FieldProps<VectorField>) {
  const id = useId();
  const numbers = Array.isArray(value) ? (value as unknown[]) : [];
  const [drafts, setDrafts] = useState<ReadonlyMap<number, { text: string; message?: string }>>(new Map());
  const message = [...drafts.values()].find((draft) => draft.message !== undefined)?.message;
  return (
    <fieldset className="sp-field sp-vector" disabled={disabled}>
      <legend className="sp-field__label">{field.name}</legend>
      {field.description !== "" && <p className="sp-hint">{field.description}</p>}
      <div className="sp-vector__items">
        {Array.from({ length: field.length }, (_, index) => {
          const draft = drafts.get(index);
          const item = numbers[index];
          return (
            <input
              key={index}
              type="text"
              inputMode="decimal"
              aria-label={`${field.name} ${AXES[index] ?? String(index + 1)}`}
              value={draft?.text ?? (typeof item === "number" ? String(item) : "")}
              aria-invalid={draft?.message === undefined ? undefined : true}
              aria-describedby={draft?.message === undefined ? undefined : `${id}-message`}
              onChange={(event) => {
                const typed = event.currentTarget.value;
                const parsed = parseNumber(field, typed);
                const next = new Map(drafts);
                next.set(index, parsed.ok ? { text: typed } : { text: typed, message: parsed.message });
                setDrafts(next);
                if (!parsed.ok) return;
                const vector = Array.from({ length: field.length }, (_, at) => {
                  const current = numbers[at];
                  return typeof current === "number" ? current : 0;
                });
                vector[index] = parsed.value;
                onValue(vector);
              }}
            />
          );
        })}
      </div>
      {message !== undefined && (
        <p className="sp-field__error" id={`${id}-message`}>
          {message}
        </p>
      )}
    </fieldset>
  );
}

function ChoiceInput({ field, value, disabled, onValue }: FieldProps<ChoiceField>) {
  const index = choiceIndex(field, value);
  return (
    <Labelled field={field}>
      {({ input, describedBy }) => (
        <select
          id={input}
          value={index === -1 ? "" : String(index)}
          disabled={disabled}
          aria-describedby={describedBy}
          onChange={(event) => {
            const chosen = field.options[Number(event.currentTarget.value)];
            if (chosen !== undefined) onValue(chosen.value);
          }}
        >
          {index === -1 && <option value="">{String(value)}</option>}
          {field.options.map((option, at) => (
            <option key={at} value={String(at)}>
              {option.label}
            </option>
          ))}
        </select>
      )}
    </Labelled>
  );
}

function TextInput({ field, value, disabled, onValue }: FieldProps<TextField>) {
  return (
    <Labelled field={field}>
      {({ input, describedBy }) => (
        <input
          id={input}
          type="text"
          value={typeof value === "string" ? value : ""}
          maxLength={field.maxLength}
          disabled={disabled}
          aria-describedby={describedBy}
          onChange={(event) => {
            onValue(event.currentTarget.value);
          }}
        />
      )}
    </Labelled>
  );
}

function CheckInput({ field, value, disabled, onValue }: FieldProps<BooleanField>) {
  const id = useId();
  return (
    <div className="sp-field sp-field--check">
      <input
        id={`${id}-input`}
        type="checkbox"
        checked={value === true}
        disabled={disabled}
        aria-describedby={field.description === "" ? undefined : `${id}-hint`}
        onChange={(event) => {
          onValue(event.currentTarget.checked);
        }}
      />
      <label className="sp-field__label" htmlFor={`${id}-input`}>
        {field.name}
      </label>
      {field.description !== "" && (
        <p className="sp-hint" id={`${id}-hint`}>
          {field.description}
        </p>
      )}
    </div>
  );
}

function FieldInput({ field, value, disabled, onValue }: FieldProps<CustomizerField>) {
  switch (field.kind) {
    case "number":
    case "slider":
      return <NumberInput field={field} value={value} disabled={disabled} onValue={onValue} />;
    case "vector":
      return <VectorInput field={field} value={value} disabled={disabled} onValue={onValue} />;
    case "choice":
      return <ChoiceInput field={field} value={value} disabled={disabled} onValue={onValue} />;
    case "text":
      return <TextInput field={field} value={value} disabled={disabled} onValue={onValue} />;
    case "boolean":
      return <CheckInput field={field} value={value} disabled={disabled} onValue={onValue} />;
    case "colour":
      return (
        <ColourInput
          name={field.name}
          description={field.description}
          value={value}
          defaultValue={field.defaultValue}
          disabled={disabled}
          onValue={onValue}
        />
      );
  }
}

/** The model's customizer: a group per tab, a field per parameter. */
export function CustomizerForm({ groups, values, readOnly, onValue }: CustomizerFormProps) {
  if (groups.length === 0) {
    return <p className="sp-hint">This model has no customizer parameters.</p>;
  }
  return (
    <form
      className="sp-customizer"
      aria-label="Customizer"
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
      }}
    >
      {groups.map((group) => (
        <fieldset key={group.name} className="sp-group" disabled={readOnly}>
          <legend>{group.name}</legend>
          {group.fields.map((field) => (
            <FieldInput
              key={field.name}
              field={field}
              value={valueOf(field, values)}
              disabled={readOnly}
              onValue={(value) => {
                onValue(field.name, value);
              }}
            />
          ))}
        </fieldset>
      ))}
    </form>
  );
}
