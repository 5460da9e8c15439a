import { useMutation } from "@tanstack/react-query";
import { useState, type SyntheticEvent } from "react";

import { signIn, type Identity } from "../api/auth";

export function SignIn({ onSignedIn }: { onSignedIn: (identity: Identity) => void }) {
  const [userName, setUserName] = useState("");
  const [password, setPassword] = useState("");
  const login = useMutation({
    mutationFn: () => signIn(userName, password),
    onSuccess: onSignedIn,
  });

  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    login.mutate();
  };

  return (
    <main className="sign-in">
      <h1>Shotgraph Studio</h1>
      <form onSubmit={submit}>
        <label>
          User name
          <input
            name="user_name"
            autoComplete="username"
            required
            value={userName}
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
            value={password}
            onChange={(event) => {
              setPassword(event.target.value);
            }}
          />
        </label>
        <button type="submit" disabled={login.isPending}>
          Sign in
        </button>
        {login.isError && (
          <p role="alert" className="error">
            {login.error.message}
          </p>
        )}
      </form>
    </main>
  );
}
