import { memo, useId, useMemo, useState } from "react";

import type { GraphNode, GraphProblem, NodeType } from "../api/graph";
import { jsonEqual } from "../api/json";
import { SetPieceSlot } from "../setpiece/SetPieceSlot";
import { FieldInput, type FormState } from "./FormFields";
import { propertyErrors, within } from "./schemaErrors";
import {
  fieldsOf,
  formatValue,
  parseInput,
  parseList,
  valueAt,
  withValue,
  type Field,
  type Parsed,
} from "./schemaForm";

export interface PropertiesPanelProps {
  /** The one selected node, if exactly one is. */
  node: GraphNode | undefined;
  type: NodeType | undefined;
  /** The problems pinned to that node. */
  problems: readonly GraphProblem[];
  selectedCount: number;
  readOnly: boolean;
  id?: string;
  /** Opened as a drawer, where the layout makes it one. */
  open?: boolean;
  /** A value the schema accepts, already in the node's properties; `field` is its dotted path. */
  onChange: (nodeId: string, properties: Record<string, unknown>, field: string) => void;
}

/** What a field holds that the node does not: the text being typed, and why the schema
 * refuses it if it does. */
interface Draft {
  raw: string | readonly string[];
  message?: string;
  /** For a list: the item the message is about. */
  item?: number;
}

/** The first schema error at or inside `key`, with the item it names when `key` is a list's. */
function refusal(errors: ReadonlyMap<string, string>, key: string): { message: string; index?: number } | undefined {
  for (const [at, message] of errors) {
    if (!within(at, key)) continue;
    const index = Number(at.slice(key.length + 1).split(".")[0]);
    return at !== key && Number.isInteger(index) ? { message, index } : { message };
  }
  return undefined;
}

interface NodeFormProps {
  nodeId: string;
  type: NodeType;
  properties: Record<string, unknown>;
  problems: readonly GraphProblem[];
  readOnly: boolean;
  onChange: PropertiesPanelProps["onChange"];
}

/** The form of one node. What the schema refuses stays in the field, marked, and is not sent:
 * the node keeps its last accepted value. */
function NodeForm({ nodeId, type, properties, problems, readOnly, onChange }: NodeFormProps) {
  const idPrefix = useId();
  const fields = useMemo(() => fieldsOf(type.properties), [type]);
  const [drafts, setDrafts] = useState<ReadonlyMap<string, Draft>>(() => new Map());
  const [opened, setOpened] = useState<ReadonlySet<string>>(() => new Set());
  const [emitted, setEmitted] = useState(properties);
  const [seen, setSeen] = useState(properties);
  if (properties !== seen) {
    setSeen(properties);
    // Changed by someone else (undo, a merge, a reload): what was typed no longer applies.
    if (properties !== emitted) {
      setDrafts(new Map());
      setOpened(new Set());
    }
  }
  // Fields sent since the problems were found: what validation said of their old values is
  // not shown (it would flash back as the field loses focus, moving the form under the
  // pointer) until the next answer judges the new ones.
  const [edited, setEdited] = useState<ReadonlySet<string>>(() => new Set());
  const [judged, setJudged] = useState(problems);
  if (problems !== judged) {
    setJudged(problems);
    setEdited(new Set());
  }

  const putDraft = (key: string, draft: Draft | undefined) => {
    setDrafts((current) => {
      const next = new Map(current);
      if (draft === undefined) next.delete(key);
      else next.set(key, draft);
      return next;
    });
  };

  const emit = (next: Record<string, unknown>, key: string) => {
    if (jsonEqual(next, properties)) return;
    setEmitted(next);
    setEdited((current) => new Set(current).add(key));
    onChange(nodeId, next, key);
  };

  /** Judge a new value of `field`: keep it as a draft, marked if refused, else send it. */
  const judge = (field: Field, raw: Draft["raw"], parsed: Parsed, itemOf: (index: number) => number = (i) => i) => {
    if (!parsed.ok) {
      putDraft(field.key, { raw, message: parsed.message });
      return;
    }
    const next = withValue(properties, field.path, parsed.value);
    const refused = refusal(propertyErrors(type.properties, next), field.key);
    if (refused === undefined) {
      putDraft(field.key, { raw });
      emit(next, field.key);
    } else if (refused.index === undefined) {
      putDraft(field.key, { raw, message: refused.message });
    } else {
      const item = itemOf(refused.index);
      putDraft(field.key, { raw, message: `Item ${String(item + 1)}: ${refused.message}`, item });
    }
  };

  const isStale = (problem: GraphProblem): boolean =>
    [...edited].some((key) => problem.field !== undefined && (within(problem.field, key) || within(key, problem.field)));

  const problemFor = (field: Field): GraphProblem | undefined =>
    problems.find(
      (problem) =>
        problem.field !== undefined &&
        (field.kind === "group" ? problem.field === field.key : within(problem.field, field.key)) &&
        !isStale(problem),
    );

  const form: FormState = {
    idPrefix,
    readOnly,
    text: (field) => {
      const raw = drafts.get(field.key)?.raw;
      return typeof raw === "string" ? raw : formatValue(field, valueAt(properties, field.path));
    },
    checked: (field) => {
      const raw = drafts.get(field.key)?.raw;
      return typeof raw === "string" ? raw === "true" : valueAt(properties, field.path) === true;
    },
    items: (field) => {
      const raw = drafts.get(field.key)?.raw;
      if (Array.isArray(raw)) return raw as readonly string[];
      const value = valueAt(properties, field.path);
      return Array.isArray(value) ? value.map((item) => formatValue(field.item, item)) : [];
    },
    error: (field) => {
      const draft = drafts.get(field.key);
      if (draft !== undefined) {
        if (draft.message === undefined) return undefined;
        return draft.item === undefined ? { message: draft.message } : { message: draft.message, item: draft.item };
      }
      const problem = problemFor(field);
      if (problem === undefined) return undefined;
      const index = Number(problem.field?.slice(field.key.length + 1).split(".")[0]);
      return field.kind === "list" && Number.isInteger(index) && problem.field !== field.key
        ? { message: problem.message, item: index }
        : { message: problem.message };
    },
    isOpen: (field) =>
      field.required ||
      opened.has(field.key) ||
      valueAt(properties, field.path) !== undefined ||
      [...drafts.keys()].some((key) => within(key, field.key)),
    input: (field, raw, badInput = false) => {
      judge(field, raw, parseInput(field, raw, badInput));
    },
    editItems: (field, items) => {
      // Blank items are unfinished and not sent, so the value's indexes skip them.
      const rawIndex = items.flatMap((raw, index) => (raw.trim() === "" ? [] : [index]));
      judge(field, items, parseList(field, items), (index) => rawIndex[index] ?? index);
    },
    settle: (field) => {
      const draft = drafts.get(field.key);
      if (draft !== undefined && draft.message === undefined) putDraft(field.key, undefined);
    },
    open: (field) => {
      setOpened((current) => new Set(current).add(field.key));
    },
    remove: (field) => {
      setDrafts((current) => new Map([...current].filter(([key]) => !within(key, field.key))));
      setOpened((current) => new Set([...current].filter((key) => !within(key, field.key))));
      emit(withValue(properties, field.path, undefined), field.key);
    },
  };

  const placed = (problem: GraphProblem) =>
    problem.field !== undefined && fields.some((field) => within(problem.field ?? "", field.key));
  const elsewhere = problems.filter((problem) => problem.port === undefined && !placed(problem));

  return (
    <form
      className="sg-form"
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
      }}
    >
      <header className="sg-form__header">
        <h3>{type.title}</h3>
        <p className="sg-hint">{type.description}</p>
      </header>
      {elsewhere.length > 0 && (
        <ul className="sg-form__problems">
          {elsewhere.map((problem, index) => (
            <li key={index}>{problem.message}</li>
          ))}
        </ul>
      )}
      <fieldset className="sg-form__fields" disabled={readOnly}>
        {fields.map((field) => (
          <FieldInput key={field.key} form={form} field={field} />
        ))}
      </fieldset>
    </form>
  );
}

/** The selected node's properties, as a form generated from its type's JSON Schema. */
export const PropertiesPanel = memo(function PropertiesPanel({
  node,
  type,
  problems,
  selectedCount,
  readOnly,
  id,
  open = false,
  onChange,
}: PropertiesPanelProps) {
  let body;
  if (node === undefined) {
    body = (
      <p className="sg-hint">
        {selectedCount > 1 ? `${String(selectedCount)} nodes selected.` : "Select a node to see its properties."}
      </p>
    );
  } else if (type === undefined) {
    body = <p className="sg-hint">“{node.type}” is not a kind of node this studio knows.</p>;
  } else {
    body = (
      <>
        <NodeForm
          key={node.id}
          nodeId={node.id}
          type={type}
          properties={node.properties}
          problems={problems}
          readOnly={readOnly}
          onChange={onChange}
        />
        {node.type === "scene" && (
          <SetPieceSlot key={`set-piece:${node.id}`} nodeId={node.id} properties={node.properties} readOnly={readOnly} onChange={onChange} />
        )}
      </>
    );
  }
  return (
    <section
      id={id}
      className={open ? "sg-properties is-open" : "sg-properties"}
      role="region"
      aria-label="Properties"
    >
      <h2 className="sg-panel-title">Properties</h2>
      {body}
    </section>
  );
});
