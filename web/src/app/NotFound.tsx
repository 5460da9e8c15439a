import { Link, useLocation } from "react-router";

import { usePageTitle } from "./pageTitle";

export function NotFound() {
  const { pathname } = useLocation();
  usePageTitle("Not found");
  return (
    <section className="page-message">
      <h1>Page not found</h1>
      <p>
        Nothing lives at <code>{pathname}</code>.
      </p>
      <p>
        <Link to="/">Go to your canvases</Link>
      </p>
    </section>
  );
}
