import { useId, useState } from "react";

import { colourParts, COLOUR_FORMS, joinColour, opacityText, parseColour } from "./colour";

export interface ColourInputProps {
  name: string;
  description: string;
  /** The node's value (or the model's default): "#rrggbb" or "#rrggbbaa". */
  value: unknown;
  defaultValue: unknown;
  disabled: boolean;
  onValue: (colour: string) => void;
}

const BLACK = { hue: "#000000", alpha: 255 };

/** A colour parameter: the hue from the browser's picker, an opacity slider, and the hex
 * typed by hand. Typed text that is not a colour stays in its field, marked and explained, and
 * is not sent: the parameter keeps its last good colour. */
export function ColourInput({ name, description, value, defaultValue, disabled, onValue }: ColourInputProps) {
  const id = useId();
  const current = typeof value === "string" ? value : "";
  const parts = colourParts(current) ?? colourParts(String(defaultValue)) ?? BLACK;
  const shown = parseColour(current);
  const [draft, setDraft] = useState<{ text: string; message?: string }>();
  // A new value from elsewhere (undo, a merge) replaces what was being typed; one this field
  // sent does not.
  const [seen, setSeen] = useState(current);
  const [sent, setSent] = useState<string>();
  if (current !== seen) {
    setSeen(current);
    if (current !== sent) setDraft(undefined);
  }

  const send = (colour: string) => {
    setSent(colour);
    if (colour !== current) onValue(colour);
  };

  const text = draft?.text ?? (shown.ok ? shown.value : current);
  const messageId = `${id}-message`;
  const hintId = `${id}-hint`;
  const described = [description === "" ? undefined : hintId, draft?.message === undefined ? undefined : messageId]
    .filter((part) => part !== undefined)
    .join(" ");

  return (
    <fieldset className="sp-field sp-colour" disabled={disabled}>
      <legend className="sp-field__label">{name}</legend>
      {description !== "" && (
        <p className="sp-hint" id={hintId}>
          {description}
        </p>
      )}
      <div className="sp-colour__controls">
        {/* The colour over a checkerboard, which shows through as it gets translucent. */}
        <span className="sp-colour__swatch" aria-hidden="true">
          <span style={{ backgroundColor: parts.hue, opacity: parts.alpha / 255 }} />
        </span>
        <input
          type="color"
          className="sp-colour__picker"
          aria-label={`${name} colour`}
          value={parts.hue}
          onChange={(event) => {
            setDraft(undefined);
            send(joinColour(event.currentTarget.value, parts.alpha));
          }}
        />
        <input
          type="text"
          className="sp-colour__hex"
          aria-label={`${name} hex`}
          spellCheck={false}
          autoComplete="off"
          value={text}
          aria-invalid={draft?.message === undefined ? undefined : true}
          aria-describedby={described === "" ? undefined : described}
          onChange={(event) => {
            const typed = event.currentTarget.value;
            const parsed = parseColour(typed);
            if (parsed.ok) {
              setDraft({ text: typed });
              send(parsed.value);
            } else {
              setDraft({ text: typed, message: parsed.message });
            }
          }}
          onBlur={() => {
            if (draft !== undefined && draft.message === undefined) setDraft(undefined);
          }}
          placeholder={COLOUR_FORMS}
        />
      </div>
      <label className="sp-colour__alpha">
        <span>Opacity</span>
        <input
          type="range"
          min={0}
          max={255}
          step={1}
          aria-label={`${name} opacity`}
          aria-valuetext={opacityText(parts.alpha)}
          value={parts.alpha}
          onChange={(event) => {
            setDraft(undefined);
            send(joinColour(parts.hue, Number(event.currentTarget.value)));
          }}
        />
        <output>{opacityText(parts.alpha)}</output>
      </label>
      {draft?.message !== undefined && (
        <p className="sp-field__error" id={messageId}>
          {draft.message}
        </p>
      )}
    </fieldset>
  );
}
