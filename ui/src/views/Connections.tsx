import { can, type Me } from '../api/client';
import { useConnections } from '../queries';
import { ErrorBox, Spinner } from './common';

export function Connections({ me }: { me: Me }) {
  const admin = can.admin(me.role);
  const conns = useConnections(admin);
  if (!admin) return <div className="page"><p role="alert">Only admins can see connections.</p></div>;
  if (conns.isPending) return <Spinner label="Loading connections" />;
  if (conns.isError) return <div className="page"><ErrorBox error={conns.error} /></div>;
  const list = conns.data.connections;
  return (
    <div className="page">
      <h1>Connections</h1>
      <p className="muted">Secrets are never shown; manage them with <code>sparkplane connections</code>.</p>
      {list.length === 0 ? (
        <p>No connections.</p>
      ) : (
        <div className="table-wrap">
          <table data-testid="connections-table">
            <thead>
              <tr>
                <th scope="col">Id</th><th scope="col">Type</th><th scope="col">Host</th><th scope="col">Port</th>
                <th scope="col">Schema</th><th scope="col">Login</th><th scope="col">Password</th><th scope="col">Extras</th>
              </tr>
            </thead>
            <tbody>
              {list.map((c) => (
                <tr key={c.conn_id}>
                  <td><code>{c.conn_id}</code></td>
                  <td>{c.conn_type}</td>
                  <td>{c.host || '—'}</td>
                  <td>{c.port || '—'}</td>
                  <td>{c.schema || '—'}</td>
                  <td>{c.login || '—'}</td>
                  <td>{c.has_password ? 'set' : '—'}</td>
                  <td><code className="wrap">{Object.keys(c.extras ?? {}).length ? JSON.stringify(c.extras) : '—'}</code>{c.has_secret_extras ? ' (+ secret extras)' : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
