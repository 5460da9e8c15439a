// @vitest-environment happy-dom
import { act, cleanup, render, screen, waitFor } from "@testing-library/react";
import { StrictMode, useState } from "react";
import { afterEach, describe, expect, it } from "vitest";

import { event, FakeNetwork, hello, soloTab } from "./fakes";
import { useLiveStatus, useLiveTopic, useUserEvents } from "./hooks";
import { LiveProvider } from "./LiveProvider";
import { canvasTopic } from "./protocol";

afterEach(() => {
  cleanup();
});

function CanvasView({ canvasId }: { canvasId: string | null }) {
  const [seqs, setSeqs] = useState<number[]>([]);
  const [feed, setFeed] = useState<string[]>([]);
  const [note, setNote] = useState("");
  useLiveTopic(
    canvasId === null ? null : canvasTopic(canvasId),
    (received, meta) => {
      setSeqs((before) => [...before, meta.seq]);
      setNote(received.type);
    },
    {
      onRefused: (refusal) => {
        setNote(`refused: ${refusal.reason}`);
      },
      onLost: () => {
        setNote("lost");
      },
      onReset: () => {
        setNote("refetch");
      },
    },
  );
  useUserEvents((received) => {
    setFeed((before) => [...before, received.type]);
  });
  return (
    <>
      <p>status: {useLiveStatus()}</p>
      <p>canvas events: {seqs.join(",")}</p>
      <p>feed: {feed.join(",")}</p>
      <p>note: {note}</p>
    </>
  );
}

describe("the live hooks", () => {
  it("follow a canvas while mounted, show the status, and hand on its events", async () => {
    const net = new FakeNetwork();
    const tab = soloTab(net, "hooks");
    const view = render(
      <StrictMode>
        <LiveProvider userId="u1" create={() => tab}>
          <CanvasView canvasId="c1" />
        </LiveProvider>
      </StrictMode>,
    );
    expect(screen.getByText("status: connecting")).toBeTruthy();
    await waitFor(() => {
      expect(net.sockets).toHaveLength(1); // StrictMode's second mount opens no second one
    });
    act(() => {
      net.socket.accept();
    });
    await waitFor(() => {
      expect(net.socket.sent).toEqual([{ type: "subscribe", topic: "canvas:c1" }]);
    });
    act(() => {
      net.socket.frame(hello(), event(5, "canvas:c1"), event(6, "canvas:other"), event(7));
    });
    expect(screen.getByText("status: live")).toBeTruthy();
    expect(screen.getByText("canvas events: 5")).toBeTruthy();
    expect(screen.getByText("note: canvas.nodes")).toBeTruthy();
    expect(screen.getByText("feed: batch.progress")).toBeTruthy();

    view.rerender(
      <StrictMode>
        <LiveProvider userId="u1" create={() => tab}>
          <CanvasView canvasId="c2" />
        </LiveProvider>
      </StrictMode>,
    );
    await waitFor(() => {
      expect(net.socket.sent.slice(1)).toEqual([
        { type: "subscribe", topic: "canvas:c2" },
        { type: "unsubscribe", topic: "canvas:c1" },
      ]);
    });
    act(() => {
      net.socket.frame({ type: "unsubscribed", topic: "canvas:c2", reason: "access_lost" });
    });
    expect(screen.getByText("note: lost")).toBeTruthy();

    view.unmount();
    expect(net.socket.closedWith).toBe(1000);
  });

  it("tell a refusal and a reset to the component", async () => {
    const net = new FakeNetwork();
    const tab = soloTab(net, "hooks");
    render(
      <LiveProvider userId="u1" create={() => tab}>
        <CanvasView canvasId="secret" />
      </LiveProvider>,
    );
    await waitFor(() => {
      expect(net.sockets).toHaveLength(1);
    });
    act(() => {
      net.socket.accept();
      net.socket.frame(hello(), {
        type: "refused",
        topic: "canvas:secret",
        reason: "not_allowed",
        detail: "",
      });
    });
    expect(screen.getByText("note: refused: not_allowed")).toBeTruthy();
  });

  it("open nothing while no one is signed in", () => {
    const net = new FakeNetwork();
    render(
      <LiveProvider userId={null} create={() => soloTab(net, "hooks")}>
        <CanvasView canvasId="c1" />
      </LiveProvider>,
    );
    expect(screen.getByText("status: signed_out")).toBeTruthy();
    expect(net.sockets).toHaveLength(0);
  });
});
