import { Handle, Position, type NodeProps } from "@xyflow/react";
import { memo, useState } from "react";

import type { GraphProblem, Port } from "../api/graph";
import { DiffBadge } from "../history/DiffBadge";
import { useDiffMark } from "../history/diffContext";
import type { FlowNode } from "./flowNodes";
import { nodeSubtitle } from "./flowNodes";
import { resultView, type ResultImage } from "./results";

function PortRow({
  port,
  side,
  problems,
  connectable,
}: {
  port: Port;
  side: "input" | "output";
  problems: readonly GraphProblem[];
  connectable: boolean;
}) {
  const mine = problems.filter((problem) => problem.port === port.name && problem.field === undefined);
  const wrong = side === "input" && mine.length > 0;
  const description = `${side === "input" ? "Input" : "Output"} ${port.name}: ${port.type}`;
  return (
    <li className={`sg-port sg-port--${side}${wrong ? " has-problem" : ""}`}>
      <Handle
        type={side === "input" ? "target" : "source"}
        position={side === "input" ? Position.Left : Position.Right}
        id={port.name}
        isConnectable={connectable}
        className={`sg-handle sg-handle--${port.type}${wrong ? " has-problem" : ""}`}
        title={wrong ? `${description}. ${mine.map((p) => p.message).join(". ")}` : description}
      />
      <span className="sg-port__name">{port.name}</span>
      <span className="sg-port__type">{port.type}</span>
    </li>
  );
}

function ResultPicture({ image }: { image: ResultImage }) {
  const [failed, setFailed] = useState<string | null>(null);
  if (failed === image.src) return <p className="sg-node__note">{image.alt} unavailable</p>;
  return (
    <img
      className="sg-node__image"
      src={image.src}
      alt={image.alt}
      loading="lazy"
      decoding="async"
      draggable={false}
      onError={() => {
        setFailed(image.src);
      }}
    />
  );
}

/** One node on the canvas: its ports as typed handles, its problems, and what Execute made. */
function ShotgraphNodeView({ id, data, selected, isConnectable }: NodeProps<FlowNode>) {
  const { type, typeName, properties, problems, result } = data;
  const mark = useDiffMark(id);
  const subtitle = nodeSubtitle(type, properties);
  const view = resultView(result, typeName);
  const classes = ["sg-node", `sg-node--${typeName}`];
  if (selected) classes.push("is-selected");
  if (problems.length > 0) classes.push("has-problems");
  if (view !== null) classes.push(`is-${view.state}`);
  if (mark !== undefined) classes.push(`is-diff-${mark.kind}`);
  return (
    <div className={classes.join(" ")}>
      {mark !== undefined && <DiffBadge mark={mark} />}
      <header className="sg-node__header">
        <span className="sg-node__title">{type?.title ?? typeName}</span>
        {problems.length > 0 && (
          <span className="sg-badge" title={problems.map((p) => p.message).join("\n")}>
            {problems.length}
            <span className="sg-visually-hidden">{problems.length === 1 ? " problem" : " problems"}</span>
          </span>
        )}
      </header>
      {subtitle !== "" && <p className="sg-node__subtitle">{subtitle}</p>}
      {type === undefined ? (
        <p className="sg-node__note">Unknown kind of node</p>
      ) : (
        <ul className="sg-ports">
          {type.inputs.map((port) => (
            <PortRow key={`in-${port.name}`} port={port} side="input" problems={problems} connectable={isConnectable} />
          ))}
          {type.outputs.map((port) => (
            <PortRow key={`out-${port.name}`} port={port} side="output" problems={problems} connectable={isConnectable} />
          ))}
        </ul>
      )}
      {view !== null && (
        <div className="sg-node__run">
          <span className="sg-node__state">
            {view.label}
            {view.progress !== undefined && ` ${String(view.progress)}%`}
          </span>
          {view.progress !== undefined && (
            <div
              className="sg-progress"
              role="progressbar"
              aria-label="Progress"
              aria-valuemin={0}
              aria-valuemax={100}
              aria-valuenow={view.progress}
            >
              <div className="sg-progress__bar" style={{ width: `${String(view.progress)}%` }} />
            </div>
          )}
          {view.error !== undefined && <p className="sg-node__error">{view.error}</p>}
          {view.image !== undefined && <ResultPicture image={view.image} />}
        </div>
      )}
      {problems.length > 0 && (
        <ul className="sg-node__problems">
          {problems.map((problem, index) => (
            <li key={index}>{problem.message}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

export const ShotgraphNode = memo(ShotgraphNodeView);
