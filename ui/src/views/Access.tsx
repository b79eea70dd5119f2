// Who may use Sparkplane: users (admins manage them) and API tokens (each user their own; an
// admin sees everyone's). A new token is shown once, like `sparkplane tokens create`.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, apiUrl, can, ok, send, type Me, type Role } from '../api/client';
import { fmtTime } from '../states';
import { ErrorBox, Spinner, useConfirm } from './common';

const ROLES: Role[] = ['viewer', 'operator', 'admin'];

export function Access({ me }: { me: Me }) {
  const admin = can.admin(me.role);
  const qc = useQueryClient();
  const { ask, dialog, setNotice } = useConfirm();
  const users = useQuery({ queryKey: ['users'], enabled: admin, queryFn: () => ok(api.GET('/api/v1/users')) });
  const tokens = useQuery({ queryKey: ['tokens'], queryFn: () => ok(api.GET('/api/v1/tokens')) });
  const [error, setError] = useState<unknown>(null);
  const [shown, setShown] = useState('');

  async function createUser(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setError(null);
    try {
      await send('POST', apiUrl(['users']), {
        username: String(form.get('username')),
        role: String(form.get('role')),
        password: String(form.get('password')),
      });
      setNotice(`Created user ${String(form.get('username'))}`);
      (e.target as HTMLFormElement).reset();
      void qc.invalidateQueries({ queryKey: ['users'] });
    } catch (err) {
      setError(err);
    }
  }

  async function createToken(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setError(null);
    try {
      const t = await send<{ id: string; token: string }>('POST', apiUrl(['tokens']), {
        name: String(form.get('name')),
        role: String(form.get('role')),
      });
      setShown(t.token);
      void qc.invalidateQueries({ queryKey: ['tokens'] });
    } catch (err) {
      setError(err);
    }
  }

  if (tokens.isPending || (admin && users.isPending)) return <Spinner label="Loading users and tokens" />;
  const failed = tokens.error ?? users.error;
  if (failed) return <div className="page"><ErrorBox error={failed} /></div>;
  const myRoles = ROLES.slice(0, ROLES.indexOf(me.role) + 1);
  return (
    <div className="page">
      <h1>Access</h1>
      {error ? <ErrorBox error={error} /> : null}
      {admin && users.data && (
        <section aria-labelledby="users-h">
          <h2 id="users-h">Users</h2>
          <div className="table-wrap">
            <table data-testid="users-table">
              <thead><tr><th scope="col">User</th><th scope="col">Role</th><th scope="col">Created</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
              <tbody>
                {users.data.users.map((u) => (
                  <tr key={u.username}>
                    <td>{u.username}</td>
                    <td>{u.role}</td>
                    <td>{fmtTime(u.created_at)}</td>
                    <td>
                      {u.username !== me.username && (
                        <button type="button" className="btn-danger" onClick={() => ask({
                          title: `Delete user ${u.username}?`,
                          body: <p>Their sessions and API tokens stop working at once.</p>,
                          confirmLabel: 'Delete user',
                          danger: true,
                          run: async () => {
                            await send('DELETE', apiUrl(['users', u.username]));
                            setNotice(`Deleted user ${u.username}`);
                            void qc.invalidateQueries({ queryKey: ['users'] });
                          },
                        })}>Delete</button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <form className="inline-form" onSubmit={createUser} aria-label="New user">
            <label>User <input name="username" required pattern="[A-Za-z0-9._@\-]{1,64}" autoComplete="off" /></label>
            <label>Role <select name="role" defaultValue="viewer">{ROLES.map((r) => <option key={r}>{r}</option>)}</select></label>
            <label>Password <input name="password" type="password" required minLength={8} autoComplete="new-password" /></label>
            <button type="submit">Create user</button>
          </form>
        </section>
      )}
      <section aria-labelledby="tokens-h">
        <h2 id="tokens-h">API tokens</h2>
        <p className="muted">For scripts: <code>Authorization: Bearer …</code>. A token has at most its user's role.</p>
        {shown && (
          <p role="status" data-testid="new-token">
            New token (shown once, copy it now): <code className="wrap">{shown}</code>
          </p>
        )}
        <div className="table-wrap">
          <table data-testid="tokens-table">
            <thead><tr><th scope="col">Id</th>{admin && <th scope="col">User</th>}<th scope="col">Name</th><th scope="col">Role</th><th scope="col">Created</th><th scope="col">Revoked</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {(tokens.data?.tokens ?? []).map((t) => (
                <tr key={t.id} className={t.revoked_at ? 'muted' : undefined}>
                  <td><code>{t.id}</code></td>
                  {admin && <td>{t.username}</td>}
                  <td>{t.name || '—'}</td>
                  <td>{t.role}</td>
                  <td>{fmtTime(t.created_at)}</td>
                  <td>{fmtTime(t.revoked_at)}</td>
                  <td>
                    {!t.revoked_at && (
                      <button type="button" className="btn-danger" onClick={() => ask({
                        title: `Revoke token ${t.id}?`,
                        body: <p>Scripts using it get 401 from now on.</p>,
                        confirmLabel: 'Revoke',
                        danger: true,
                        run: async () => {
                          await send('DELETE', apiUrl(['tokens', t.id]));
                          setNotice(`Revoked ${t.id}`);
                          void qc.invalidateQueries({ queryKey: ['tokens'] });
                        },
                      })}>Revoke</button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <form className="inline-form" onSubmit={createToken} aria-label="New API token">
          <label>Name <input name="name" maxLength={200} placeholder="what it is for" /></label>
          <label>Role <select name="role" defaultValue={me.role}>{myRoles.map((r) => <option key={r}>{r}</option>)}</select></label>
          <button type="submit">Create token</button>
        </form>
      </section>
      {dialog}
    </div>
  );
}
