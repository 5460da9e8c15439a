// @vitest-environment happy-dom
import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import { ApiError } from "../api/http";
import { ErrorAlert } from "./ErrorAlert";

afterEach(cleanup);

describe("ErrorAlert", () => {
  it("shows nothing while there is no error", () => {
    const { container } = render(
      <>
        <ErrorAlert error={null} />
        <ErrorAlert error={undefined} />
      </>,
    );
    expect(container.childElementCount).toBe(0);
  });

  it("announces the problem's detail as a sentence, after its prefix", () => {
    const refused = new ApiError({
      type: "about:blank",
      title: "Conflict",
      status: 409,
      detail: "the name is taken",
    });
    render(<ErrorAlert error={refused} prefix="Not renamed: " className="bar-error" />);
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toBe("Not renamed: The name is taken.");
    expect(alert.className).toBe("error bar-error");
  });
});
