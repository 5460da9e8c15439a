import { useMutation } from "@tanstack/react-query";
import { useState, type SyntheticEvent } from "react";

import { signIn, type Identity } from "../api/auth";
import { ErrorAlert } from "../app/ErrorAlert";

interface SignInFormProps {
  onSignedIn: (identity: Identity) => void;
  /** Filled in when the person is known (signing in again). */
  initialUserName?: string;
}

/** User name and password, and why a sign-in failed. */
export function SignInForm({ onSignedIn, initialUserName = "" }: SignInFormProps) {
  const [userName, setUserName] = useState(initialUserName);
  const [password, setPassword] = useState("");
  const login = useMutation({
    mutationFn: () => signIn(userName, password),
    onSuccess: onSignedIn,
    onError: () => {
      setPassword("");
    },
  });

  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    login.mutate();
  };

  return (
    <form className="form" onSubmit={submit}>
      <label>
        User name
        <input
          name="user_name"
          autoComplete="username"
          autoCapitalize="none"
          spellCheck={false}
          required
          maxLength={63}
          value={userName}
          autoFocus={initialUserName === ""}
          data-autofocus={initialUserName === "" ? true : undefined}
          onChange={(event) => {
            setUserName(event.target.value);
          }}
        />
      </label>
      <label>
        Password
        <input
          name="password"
          type="password"
          autoComplete="current-password"
          required
          maxLength={256}
          value={password}
          data-autofocus={initialUserName === "" ? undefined : true}
          onChange={(event) => {
            setPassword(event.target.value);
          }}
        />
      </label>
      <button type="submit" className="primary" disabled={login.isPending}>
        Sign in
      </button>
      <ErrorAlert error={login.error} />
    </form>
  );
}
