// What a set piece shows while it is edited: its customizer parameters, the quick preview that
// follows the values (debounced; the latest request only), and the full render (PNG, GLB, 3MF,
// STL) started once the values have settled and followed to its end.

import { useEffect, useMemo, useState } from "react";

import { useUserEvents } from "../live";
import { knownValues, type Parameter } from "./customizer";
import { BatchPings, followRender } from "./follow";
import { Latest } from "./latest";
import {
  canonicalJson,
  errorText,
  fetchParameters,
  fetchPreview,
  FORMATS,
  getRender,
  problemLine,
  startRender,
  type Render,
  type RenderSpec,
  type Spec,
  type View,
} from "./renderApi";

/** How long the values must stay put before a preview is asked for. */
export const PREVIEW_DELAY_MS = 250;
/** How long previewed values must stay put before their full render starts. */
export const SETTLE_MS = 500;
export const PREVIEW_VIEW: View = { width: 480, height: 360 };
/** The scene node's own render view (services/canvas/kinds/scene.py RENDER_VIEW). */
export const RENDER_VIEW: View = { width: 1280, height: 720 };
const CACHED_SOURCES = 16;

export interface SetPieceInput {
  source: string;
  values: Readonly<Record<string, unknown>>;
  parameterSet?: string | undefined;
}

export interface Refusal {
  message: string;
  /** The model's line it is about, when known. */
  line?: number;
}

export interface PreviewState {
  /** An object URL of the newest preview PNG. */
  url?: string;
  /** A preview of newer values is waiting or on its way. */
  busy: boolean;
  /** Why the newest values could not be previewed. */
  error?: Refusal;
}

export interface ModelState {
  /** The newest render that succeeded, of whatever values: what the viewer shows. */
  shown?: Render;
  /** The render of the previewed values, once it succeeded (their downloads). */
  current?: Render;
  /** The render of the previewed values, while it runs. */
  running?: Render;
  /** Why the render of the previewed values failed. */
  error?: string;
}

interface Answered {
  key: string;
  url?: string;
  error?: Refusal;
}

interface RenderProgress {
  key: string;
  running?: Render;
  done?: Render;
  error?: string;
}

function refusalOf(error: unknown): Refusal {
  const line = problemLine(error);
  return line === undefined ? { message: errorText(error) } : { message: errorText(error), line };
}

function specOf(input: SetPieceInput, parameters: readonly Parameter[], view: View): Spec {
  const spec: Spec = { source: input.source, parameters: knownValues(parameters, input.values), view };
  if (input.parameterSet !== undefined && input.parameterSet !== "") spec.parameter_set = input.parameterSet;
  return spec;
}

export function useSetPiece(input: SetPieceInput): {
  parameters: readonly Parameter[] | undefined;
  preview: PreviewState;
  model: ModelState;
} {
  const { source, parameterSet } = input;
  const valuesKey = canonicalJson(input.values);
  const inputKey = canonicalJson({ source, valuesKey, parameterSet });

  const [previews] = useState(() => new Latest(PREVIEW_DELAY_MS));
  const [renders] = useState(() => new Latest(SETTLE_MS));
  const [pings] = useState(() => new BatchPings());
  const [cache] = useState(() => new Map<string, Parameter[]>());

  const [parameters, setParameters] = useState<readonly Parameter[]>();
  const [answered, setAnswered] = useState<Answered>();
  const [settled, setSettled] = useState<Spec>();
  const [progress, setProgress] = useState<RenderProgress>();
  const [shown, setShown] = useState<Render>();

  // Back online: ask again for what the network kept from being previewed.
  const [reconnects, setReconnects] = useState(0);
  useEffect(() => {
    const again = () => {
      setReconnects((count) => count + 1);
    };
    window.addEventListener("online", again);
    return () => {
      window.removeEventListener("online", again);
    };
  }, []);

  useUserEvents((event) => {
    if ("batch_id" in event && typeof event.batch_id === "string") pings.ping(event.batch_id);
  });

  // The preview follows the input: its parameters first (cached by source), then the PNG. New
  // values are not settled: a full render waiting to start (or being followed) is dropped.
  useEffect(() => {
    renders.cancel();
    const values = JSON.parse(valuesKey) as Record<string, unknown>;
    const wanted: SetPieceInput = { source, values, parameterSet };
    previews.schedule(
      async (signal) => {
        let known = cache.get(source);
        if (known === undefined) {
          known = await fetchParameters(source, signal);
          if (cache.size >= CACHED_SOURCES) cache.delete(cache.keys().next().value ?? "");
          cache.set(source, known);
        }
        if (!signal.aborted) setParameters(known);
        const spec = specOf(wanted, known, PREVIEW_VIEW);
        return { spec, png: await fetchPreview(spec, signal) };
      },
      (outcome) => {
        if (outcome.ok) {
          setAnswered({ key: inputKey, url: URL.createObjectURL(outcome.value.png) });
          setSettled(outcome.value.spec);
        } else {
          const error = refusalOf(outcome.error);
          setAnswered((before) => (before?.url === undefined ? { key: inputKey, error } : { key: inputKey, url: before.url, error }));
        }
      },
    );
  }, [cache, inputKey, parameterSet, previews, reconnects, renders, source, valuesKey]);

  // Each preview's object URL is let go once a newer one shows (or the section closes).
  const url = answered?.url;
  useEffect(() => {
    if (url === undefined) return;
    return () => {
      URL.revokeObjectURL(url);
    };
  }, [url]);

  // Once previewed values stay put, their full render: started (or found again by its
  // Idempotency-Key: values changed and changed back render once), then followed to its end.
  const settledKey = settled === undefined ? undefined : canonicalJson(settled);
  useEffect(() => {
    if (settled === undefined) return;
    const key = canonicalJson(settled);
    const spec: RenderSpec = { ...settled, view: RENDER_VIEW, formats: FORMATS };
    renders.schedule(
      async (signal) => {
        const started = await startRender(spec, signal);
        const report = (render: Render) => {
          if (!signal.aborted) setProgress({ key, running: render });
        };
        report(started);
        return followRender(started, { get: getRender, wait: pings.wait.bind(pings) }, report, signal);
      },
      (outcome) => {
        if (outcome.ok && outcome.value.state === "succeeded") {
          setProgress({ key, done: outcome.value });
          setShown(outcome.value);
        } else if (outcome.ok) {
          const why = outcome.value.error ?? `the render was ${outcome.value.state}`;
          setProgress({ key, error: why });
        } else {
          setProgress({ key, error: errorText(outcome.error) });
        }
      },
    );
  }, [pings, renders, settled]);

  useEffect(
    () => () => {
      previews.cancel();
      renders.cancel();
    },
    [previews, renders],
  );

  const preview = useMemo<PreviewState>(() => {
    const state: PreviewState = { busy: answered?.key !== inputKey };
    if (answered?.url !== undefined) state.url = answered.url;
    // An error stays until an answer without one: while a fix is checked, it still says why.
    if (answered?.error !== undefined) state.error = answered.error;
    return state;
  }, [answered, inputKey]);

  const model = useMemo<ModelState>(() => {
    const state: ModelState = {};
    if (shown !== undefined) state.shown = shown;
    if (progress === undefined || progress.key !== settledKey) return state;
    if (progress.done !== undefined) state.current = progress.done;
    if (progress.running !== undefined) state.running = progress.running;
    if (progress.error !== undefined) state.error = progress.error;
    return state;
  }, [progress, settledKey, shown]);

  return { parameters, preview, model };
}
