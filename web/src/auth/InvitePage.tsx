import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useId, useState, type SyntheticEvent } from "react";
import { useLocation, useNavigate } from "react-router";

import { acceptInvite, passwordProblem, userNameProblem } from "../api/invites";
import { ErrorAlert } from "../app/ErrorAlert";
import { usePageTitle } from "../app/pageTitle";
import { startSession } from "../app/session";
import "./auth.css";

/** The invitation's token, from the link's fragment (`#token=...`): a fragment never reaches
 * a server's logs or a Referer header. */
function tokenFromFragment(hash: string): string {
  return new URLSearchParams(hash.slice(1)).get("token") ?? "";
}

interface FieldProps {
  label: string;
  value: string;
  onChange: (value: string) => void;
  problem: string | null;
  type?: string;
  autoComplete: string;
  hint?: string;
}

/** A labelled input whose problem, once shown, is tied to it for assistive technology. */
function Field({ label, value, onChange, problem, type = "text", autoComplete, hint }: FieldProps) {
  const id = useId();
  const described = [
    hint === undefined ? "" : `${id}-hint`,
    problem === null ? "" : `${id}-problem`,
  ]
    .filter((part) => part !== "")
    .join(" ");
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type={type}
        required
        autoComplete={autoComplete}
        value={value}
        aria-invalid={problem === null ? undefined : true}
        aria-describedby={described === "" ? undefined : described}
        onChange={(event) => {
          onChange(event.target.value);
        }}
      />
      {hint !== undefined && (
        <p id={`${id}-hint`} className="hint">
          {hint}
        </p>
      )}
      {problem !== null && (
        <p id={`${id}-problem`} className="error">
          {problem}
        </p>
      )}
    </div>
  );
}

/** `/invite#token=...`: the invited person chooses a user name and a password (twice), and
 * is signed in. */
export function InvitePage() {
  usePageTitle("Accept your invitation");
  const queries = useQueryClient();
  const navigate = useNavigate();
  const { pathname, hash } = useLocation();
  const [token] = useState(() => tokenFromFragment(hash));
  const [userName, setUserName] = useState("");
  const [password, setPassword] = useState("");
  const [repeated, setRepeated] = useState("");
  const [checked, setChecked] = useState(false);

  useEffect(() => {
    // The token is kept in memory; the address bar and history forget it.
    if (hash !== "") void navigate(pathname, { replace: true });
  }, [hash, pathname, navigate]);

  const accept = useMutation({
    mutationFn: () => acceptInvite(token, userName, password),
    onSuccess: (identity) => {
      startSession(queries, identity);
      void navigate("/", { replace: true });
    },
  });

  const problems = {
    userName: userNameProblem(userName),
    password: passwordProblem(password, userName),
    repeated: repeated === password ? null : "The two passwords differ.",
  };

  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    setChecked(true);
    if (Object.values(problems).every((problem) => problem === null)) accept.mutate();
  };

  if (token === "") {
    return (
      <main className="auth-page">
        <h1>Accept your invitation</h1>
        <p role="alert" className="error">
          This invitation link is incomplete: open the whole link from your invitation.
        </p>
      </main>
    );
  }
  return (
    <main className="auth-page">
      <h1>Accept your invitation</h1>
      <p className="lede">Choose the name you sign in with and a password.</p>
      <form className="form" onSubmit={submit} noValidate>
        <Field
          label="User name"
          value={userName}
          onChange={setUserName}
          problem={checked ? problems.userName : null}
          autoComplete="username"
          hint="Lowercase letters, digits, '.', '_' or '-'."
        />
        <Field
          label="Password"
          type="password"
          value={password}
          onChange={setPassword}
          problem={checked ? problems.password : null}
          autoComplete="new-password"
          hint="10 to 256 characters, not your user name."
        />
        <Field
          label="Repeat the password"
          type="password"
          value={repeated}
          onChange={setRepeated}
          problem={checked ? problems.repeated : null}
          autoComplete="new-password"
        />
        <button type="submit" className="primary" disabled={accept.isPending}>
          Create account
        </button>
        <ErrorAlert error={accept.error} />
      </form>
    </main>
  );
}
