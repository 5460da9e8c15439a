// The inputs of a property form, one component per kind of field. Their state lives in the
// form (PropertiesPanel): these render what it says and report what the user does.

import type { ReactNode } from "react";

import { UploadChoices } from "../uploads/UploadChoices";
import type { Field, GroupField, ListField, SimpleField, JsonField } from "./schemaForm";

/** What a field shows and how it reports edits; made by the form. */
export interface FormState {
  /** A unique id prefix for this form's elements. */
  idPrefix: string;
  /** The text an input shows: what the user typed, else the stored value. */
  text: (field: SimpleField | JsonField) => string;
  checked: (field: SimpleField) => boolean;
  items: (field: ListField) => readonly string[];
  /** The message a field is marked with, if any; for a list, with the item at fault. */
  error: (field: Field) => { message: string; item?: number } | undefined;
  isOpen: (field: GroupField) => boolean;
  input: (field: SimpleField | JsonField, raw: string, badInput?: boolean) => void;
  editItems: (field: ListField, items: readonly string[]) => void;
  settle: (field: Field) => void;
  open: (field: GroupField) => void;
  remove: (field: GroupField) => void;
  readOnly: boolean;
}

function idOf(form: FormState, field: Field, suffix = ""): string {
  return `${form.idPrefix}-${field.key.replaceAll(".", "-")}${suffix}`;
}

/** The ids an input is described by: its hint, then its error message. */
function describedBy(form: FormState, field: Field, invalid: boolean): string | undefined {
  const ids = [];
  if (field.description !== undefined) ids.push(idOf(form, field, "-hint"));
  if (invalid) ids.push(idOf(form, field, "-error"));
  return ids.length > 0 ? ids.join(" ") : undefined;
}

function Notes({ form, field, message }: { form: FormState; field: Field; message: string | undefined }) {
  return (
    <>
      {field.description !== undefined && (
        <p id={idOf(form, field, "-hint")} className="sg-hint">
          {field.description}
        </p>
      )}
      {message !== undefined && (
        <p id={idOf(form, field, "-error")} className="sg-field__error">
          {message}
        </p>
      )}
    </>
  );
}

function Label({ form, field, children }: { form: FormState; field: Field; children?: ReactNode }) {
  // The required mark sits outside the label, so that the input's name is the label alone.
  return (
    <span className="sg-field__label">
      <label htmlFor={idOf(form, field)}>{field.label}</label>
      {field.required && (
        <span className="sg-required" aria-hidden="true" title="Required">
          *
        </span>
      )}
      {children}
    </span>
  );
}

/** A list's or group's name: its fieldset's accessible name, the required mark left out of it. */
function Legend({ field }: { field: Field }) {
  return (
    <legend>
      {field.label}
      {field.required && (
        <span className="sg-required" aria-hidden="true">
          *
        </span>
      )}
    </legend>
  );
}

/** The schema's default, shown in an empty text or number field. */
function placeholderOf(field: SimpleField | JsonField): string | undefined {
  const value = field.defaultValue;
  if (field.kind !== "text" && field.kind !== "number") return undefined;
  return typeof value === "string" || typeof value === "number" ? String(value) : undefined;
}

function SimpleInput({ form, field }: { form: FormState; field: SimpleField | JsonField }) {
  const message = form.error(field)?.message;
  const common = {
    id: idOf(form, field),
    "aria-invalid": message !== undefined ? true : undefined,
    "aria-describedby": describedBy(form, field, message !== undefined),
    "aria-required": field.required || undefined,
    disabled: form.readOnly || undefined,
    placeholder: placeholderOf(field),
    onBlur: () => {
      form.settle(field);
    },
  } as const;
  let control: ReactNode;
  switch (field.kind) {
    case "checkbox":
      control = (
        <input
          {...common}
          type="checkbox"
          checked={form.checked(field)}
          onChange={(event) => {
            form.input(field, String(event.currentTarget.checked));
          }}
        />
      );
      break;
    case "choice":
      control = (
        <select
          {...common}
          value={form.text(field)}
          onChange={(event) => {
            form.input(field, event.currentTarget.value);
          }}
        >
          <option value="">—</option>
          {field.options.map((option, index) => (
            <option key={index} value={String(index)}>
              {String(option)}
            </option>
          ))}
        </select>
      );
      break;
    case "number":
      control = (
        <input
          {...common}
          type="number"
          inputMode={field.integer ? "numeric" : "decimal"}
          min={field.min}
          max={field.max}
          step={field.step}
          value={form.text(field)}
          onChange={(event) => {
            const input = event.currentTarget;
            form.input(field, input.value, input.validity.badInput);
          }}
        />
      );
      break;
    case "text":
    case "json": {
      const multiline = field.kind === "json" || field.multiline;
      const onChange = (event: { currentTarget: { value: string } }) => {
        form.input(field, event.currentTarget.value);
      };
      control = multiline ? (
        <textarea
          {...common}
          rows={field.kind === "json" ? 4 : 3}
          spellCheck={field.kind !== "json"}
          value={form.text(field)}
          onChange={onChange}
        />
      ) : (
        <input
          {...common}
          type={field.inputType}
          list={uploadsListOf(form, field)}
          value={form.text(field)}
          onChange={onChange}
        />
      );
      break;
    }
  }
  return (
    <div className={`sg-field sg-field--${field.kind}${message !== undefined ? " is-invalid" : ""}`}>
      {field.kind === "checkbox" ? (
        <span className="sg-field__check">
          {control}
          <Label form={form} field={field} />
        </span>
      ) : (
        <>
          <Label form={form} field={field} />
          {control}
        </>
      )}
      <Choices form={form} field={field} />
      <Notes form={form} field={field} message={message} />
    </div>
  );
}

/** The id of the list of uploads a blob-id field offers (`<input list>`), if it is one. */
function uploadsListOf(form: FormState, field: Field): string | undefined {
  const text = field.kind === "list" ? field.item : field;
  return text.kind === "text" && text.blobId === true && !form.readOnly ? idOf(form, field, "-uploads") : undefined;
}

function Choices({ form, field }: { form: FormState; field: Field }) {
  const id = uploadsListOf(form, field);
  return id === undefined ? null : <UploadChoices id={id} />;
}

function ListInput({ form, field }: { form: FormState; field: ListField }) {
  const items = form.items(field);
  const error = form.error(field);
  const full = field.maxItems !== undefined && items.length >= field.maxItems;
  return (
    <fieldset className={`sg-field sg-field--list${error !== undefined ? " is-invalid" : ""}`}>
      <Legend field={field} />
      <ol className="sg-list">
        {items.map((raw, index) => {
          const itemId = idOf(form, field, `-${String(index)}`);
          // The whole list's error marks the item it is about, or every item when it is about none.
          const invalid = error !== undefined && (error.item === undefined || error.item === index);
          return (
            <li key={index}>
              <label className="sg-visually-hidden" htmlFor={itemId}>
                {`${field.label} ${String(index + 1)}`}
              </label>
              <input
                id={itemId}
                type={field.item.kind === "number" ? "number" : "text"}
                list={uploadsListOf(form, field)}
                value={raw}
                disabled={form.readOnly || undefined}
                aria-invalid={invalid || undefined}
                aria-describedby={invalid ? idOf(form, field, "-error") : undefined}
                onChange={(event) => {
                  form.editItems(field, items.map((old, at) => (at === index ? event.currentTarget.value : old)));
                }}
                onBlur={() => {
                  form.settle(field);
                }}
              />
              {!form.readOnly && (
                <button
                  type="button"
                  className="sg-icon-button"
                  aria-label={`Remove ${field.label} ${String(index + 1)}`}
                  onClick={() => {
                    form.editItems(
                      field,
                      items.filter((_, at) => at !== index),
                    );
                  }}
                >
                  ×
                </button>
              )}
            </li>
          );
        })}
      </ol>
      {!form.readOnly && (
        <button
          type="button"
          disabled={full}
          onClick={() => {
            form.editItems(field, [...items, ""]);
          }}
        >
          Add to {field.label}
        </button>
      )}
      <Choices form={form} field={field} />
      <Notes form={form} field={field} message={error?.message} />
    </fieldset>
  );
}

function GroupInput({ form, field }: { form: FormState; field: GroupField }) {
  const open = form.isOpen(field);
  const message = form.error(field)?.message;
  return (
    <fieldset className="sg-field sg-field--group">
      <Legend field={field} />
      {open ? (
        <>
          {field.fields.map((child) => (
            <FieldInput key={child.key} form={form} field={child} />
          ))}
          {!field.required && !form.readOnly && (
            <button
              type="button"
              onClick={() => {
                form.remove(field);
              }}
            >
              Remove {field.label}
            </button>
          )}
        </>
      ) : (
        !form.readOnly && (
          <button
            type="button"
            onClick={() => {
              form.open(field);
            }}
          >
            Add {field.label}
          </button>
        )
      )}
      <Notes form={form} field={field} message={message} />
    </fieldset>
  );
}

export function FieldInput({ form, field }: { form: FormState; field: Field }) {
  switch (field.kind) {
    case "group":
      return <GroupInput form={form} field={field} />;
    case "list":
      return <ListInput form={form} field={field} />;
    default:
      return <SimpleInput form={form} field={field} />;
  }
}
