import { useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { api, ok, setCsrfToken } from '../api/client';
import { keys } from '../queries';
import { ErrorBox } from './common';

export function Login() {
  const qc = useQueryClient();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const me = await ok(api.POST('/api/v1/auth/login', { body: { username, password } }), { quiet401: true });
      setCsrfToken(me.csrf_token);
      qc.setQueryData(keys.me, me);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="login" id="main">
      <form onSubmit={submit} aria-labelledby="login-title" data-testid="login-form">
        <h1 id="login-title">Sparkplane</h1>
        <p className="muted">Sign in to see and run your DAGs.</p>
        <label>
          Username
          <input name="username" autoComplete="username" required value={username} onChange={(e) => setUsername(e.target.value)} autoFocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        <ErrorBox error={error} />
        <button type="submit" className="btn-primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
