// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { useState } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { customizerForm } from "./customizer";
import { DEFAULT_PARAMETERS, OTHER_PARAMETERS } from "./customizer.fixture";
import { CustomizerForm } from "./CustomizerForm";

afterEach(cleanup);

/** The form as the section holds it: each value sent becomes the node's. */
function Harness({ onValue, start = {} }: { onValue: (name: string, value: unknown) => void; start?: Record<string, unknown> }) {
  const [values, setValues] = useState(start);
  return (
    <CustomizerForm
      groups={customizerForm([...DEFAULT_PARAMETERS, ...OTHER_PARAMETERS])}
      values={values}
      readOnly={false}
      onValue={(name, value) => {
        onValue(name, value);
        setValues((now) => ({ ...now, [name]: value }));
      }}
    />
  );
}

function colour(name: string) {
  const group = screen.getByRole("group", { name });
  return {
    picker: within(group).getByLabelText<HTMLInputElement>(`${name} colour`),
    hex: within(group).getByLabelText<HTMLInputElement>(`${name} hex`),
    opacity: within(group).getByLabelText<HTMLInputElement>(`${name} opacity`),
  };
}

describe("CustomizerForm", () => {
  it("draws a field of its kind for each parameter, in its tab", () => {
    render(<Harness onValue={vi.fn()} />);
    const tabs = [...document.querySelectorAll(".sp-group > legend")].map((legend) => legend.textContent);
    expect(tabs).toEqual(["Colours", "Size", "More"]);
    const width = screen.getByLabelText<HTMLInputElement>("width");
    expect([width.type, width.min, width.max, width.step, width.value]).toEqual(["range", "10", "100", "5", "40"]);
    expect((screen.getByLabelText<HTMLInputElement>("doorway")).checked).toBe(true);
    expect((screen.getByLabelText<HTMLSelectElement>("kind")).selectedOptions[0]?.textContent).toBe("Wood");
    expect((screen.getByLabelText<HTMLInputElement>("label")).maxLength).toBe(12);
    expect((screen.getByLabelText<HTMLInputElement>("offset y")).value).toBe("2");
    expect(screen.getByText("Width and depth of the set, in mm")).toBeTruthy();
    const wall = colour("wall_colour");
    expect([wall.picker.type, wall.picker.value, wall.hex.value, wall.opacity.value]).toEqual(["color", "#c0392b", "#c0392b", "255"]);
  });

  it("sends a picked hue with the opacity it has, and a new opacity with the hue", () => {
    const onValue = vi.fn();
    render(<Harness onValue={onValue} start={{ wall_colour: "#c0392b80" }} />);
    const wall = colour("wall_colour");
    expect(wall.opacity.getAttribute("aria-valuetext")).toBe("50%");
    fireEvent.change(wall.picker, { target: { value: "#ff0000" } });
    expect(onValue).toHaveBeenLastCalledWith("wall_colour", "#ff000080");
    fireEvent.change(wall.opacity, { target: { value: "255" } });
    expect(onValue).toHaveBeenLastCalledWith("wall_colour", "#ff0000");
    expect(wall.hex.value).toBe("#ff0000");
  });

  it("takes a colour typed by hand in any hex form", () => {
    const onValue = vi.fn();
    render(<Harness onValue={onValue} />);
    const wall = colour("wall_colour");
    fireEvent.change(wall.hex, { target: { value: "#0F08" } });
    expect(onValue).toHaveBeenLastCalledWith("wall_colour", "#00ff0088");
    expect(wall.picker.value).toBe("#00ff00");
    expect(wall.hex.getAttribute("aria-invalid")).toBeNull();
  });

  it("refuses a typed colour that is not one at its field, and sends nothing", () => {
    const onValue = vi.fn();
    render(<Harness onValue={onValue} />);
    const wall = colour("wall_colour");
    fireEvent.change(wall.hex, { target: { value: "crimson-ish" } });
    expect(onValue).not.toHaveBeenCalled();
    expect(wall.hex.value).toBe("crimson-ish");
    expect(wall.hex.getAttribute("aria-invalid")).toBe("true");
    const message = document.getElementById(wall.hex.getAttribute("aria-describedby")?.split(" ").at(-1) ?? "");
    expect(message?.textContent).toBe("“crimson-ish” is not a colour: use #rgb, #rgba, #rrggbb or #rrggbbaa.");
    // The last good colour is kept everywhere else.
    expect(wall.picker.value).toBe("#c0392b");
    // Leaving the field keeps the refusal on show; a picked colour replaces it.
    fireEvent.blur(wall.hex);
    expect(wall.hex.getAttribute("aria-invalid")).toBe("true");
    fireEvent.change(wall.picker, { target: { value: "#123456" } });
    expect(onValue).toHaveBeenCalledExactlyOnceWith("wall_colour", "#123456");
    expect(wall.hex.value).toBe("#123456");
    expect(wall.hex.getAttribute("aria-invalid")).toBeNull();
  });

  it("refuses a number out of the model's range at its field", () => {
    const onValue = vi.fn();
    render(<Harness onValue={onValue} />);
    const turns = screen.getByLabelText<HTMLInputElement>("turns");
    fireEvent.change(turns, { target: { value: "two" } });
    expect(turns.getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByText("“two” is not a number.")).toBeTruthy();
    fireEvent.change(turns, { target: { value: "2.5" } });
    expect(onValue).toHaveBeenCalledExactlyOnceWith("turns", 2.5);
    const y = screen.getByLabelText<HTMLInputElement>("offset y");
    fireEvent.change(y, { target: { value: "11" } });
    expect(screen.getByText("At most 10.")).toBeTruthy();
    fireEvent.change(y, { target: { value: "-4" } });
    expect(onValue).toHaveBeenLastCalledWith("offset", [1, -4, 3]);
  });

  it("sends choices, switches, sliders and text as their values", () => {
    const onValue = vi.fn();
    render(<Harness onValue={onValue} />);
    fireEvent.change(screen.getByLabelText("kind"), { target: { value: "1" } });
    expect(onValue).toHaveBeenLastCalledWith("kind", "stone");
    fireEvent.click(screen.getByLabelText("doorway"));
    expect(onValue).toHaveBeenLastCalledWith("doorway", false);
    fireEvent.change(screen.getByLabelText("width"), { target: { value: "65" } });
    expect(onValue).toHaveBeenLastCalledWith("width", 65);
    fireEvent.change(screen.getByLabelText("label"), { target: { value: "Harbour" } });
    expect(onValue).toHaveBeenLastCalledWith("label", "Harbour");
  });
});
