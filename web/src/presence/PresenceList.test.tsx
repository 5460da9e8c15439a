// @vitest-environment happy-dom
import { act, cleanup, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import { canvasTopic, LiveProvider, useLiveStatus, useLiveTopic } from "../live";
import { FakeNetwork, hello, soloTab } from "../live/fakes";
import { othersThan } from "./presence";
import { PresenceList } from "./PresenceList";
import { usePresence } from "./usePresence";

afterEach(cleanup);

const me = { user_id: "u-me", user_name: "Me" };
const ann = { user_id: "u-ann", user_name: "Ann Jones" };
const bob = { user_id: "u-bob", user_name: "Bob" };

/** The canvas page's header as far as presence goes. */
function Header() {
  const { presence, onSubscribed, onPresence } = usePresence();
  useLiveTopic(canvasTopic("c1"), () => undefined, { onSubscribed, onPresence });
  const live = useLiveStatus() === "live";
  return <PresenceList others={othersThan(presence, me.user_id)} live={live} />;
}

const names = () =>
  within(screen.getByRole("status", { name: "Also here" }))
    .queryAllByRole("listitem")
    .map((item) => item.textContent);

describe("the list of who else is here", () => {
  it("follows the canvas's presence as people come and go, leaving the person out", async () => {
    const net = new FakeNetwork();
    render(
      <LiveProvider userId={me.user_id} create={() => soloTab(net, "presence")}>
        <Header />
      </LiveProvider>,
    );
    await waitFor(() => {
      expect(net.sockets).toHaveLength(1);
    });
    act(() => {
      net.socket.accept();
    });
    await waitFor(() => {
      expect(net.socket.sent).toEqual([{ type: "subscribe", topic: "canvas:c1" }]);
    });
    act(() => {
      net.socket.frame(hello({ user_id: me.user_id }));
    });
    expect(names()).toEqual([]);

    act(() => {
      net.socket.frame({ type: "subscribed", topic: "canvas:c1", presence: [me, ann] });
    });
    expect(names()).toEqual(["AJAnn Jones"]);
    expect(screen.getByRole("status", { name: "Also here" }).textContent).toBe("Also here:AJAnn Jones");

    act(() => {
      net.socket.frame({ type: "presence", topic: "canvas:c1", action: "join", ...bob });
    });
    expect(names()).toEqual(["AJAnn Jones", "BBob"]);

    act(() => {
      net.socket.frame({ type: "presence", topic: "canvas:c1", action: "leave", ...ann });
    });
    expect(names()).toEqual(["BBob"]);

    // Another canvas's presence is not this one's.
    act(() => {
      net.socket.frame({ type: "presence", topic: "canvas:c2", action: "join", ...ann });
    });
    expect(names()).toEqual(["BBob"]);
  });

  it("shows nobody while the connection is down: who is here is not known then", () => {
    render(<PresenceList others={[ann]} live={false} />);
    expect(names()).toEqual([]);
  });
});
