import { useQueryClient } from '@tanstack/react-query';
import { apiUrl, can, send, type Me } from '../api/client';
import { keys, useClusters } from '../queries';
import { links } from '../router';
import { fmtTime } from '../states';
import { ErrorBox, Spinner, useConfirm } from './common';

export function Clusters({ me }: { me: Me }) {
  const clusters = useClusters();
  const qc = useQueryClient();
  const { ask, dialog, setNotice } = useConfirm();
  if (clusters.isPending) return <Spinner label="Loading clusters" />;
  if (clusters.isError) return <div className="page"><ErrorBox error={clusters.error} /></div>;
  const list = clusters.data.clusters;
  return (
    <div className="page">
      <h1>Clusters</h1>
      {list.length === 0 ? (
        <p>No on-demand Spark cluster yet.</p>
      ) : (
        <div className="table-wrap">
          <table data-testid="clusters-table">
            <thead>
              <tr>
                <th scope="col">Name</th><th scope="col">Backend</th><th scope="col">State</th><th scope="col">Run</th>
                <th scope="col">Workers</th><th scope="col">Master</th><th scope="col">Created</th><th scope="col">Deleted</th>
                {can.admin(me.role) && <th scope="col"><span className="sr-only">Actions</span></th>}
              </tr>
            </thead>
            <tbody>
              {list.map((c) => {
                const [dag, ...rest] = (c.run_id ?? '').includes('/') && !c.dag_id ? (c.run_id ?? '').split('/') : [c.dag_id ?? '', c.run_id ?? ''];
                const run = rest.join('/');
                return (
                  <tr key={c.name} className={c.deleted_at ? 'muted' : undefined}>
                    <td><code>{c.name}</code></td>
                    <td>{c.backend}</td>
                    <td>{c.state}</td>
                    <td>{dag && run ? <a href={links.run(dag, run)}>{dag} / {run}</a> : '—'}</td>
                    <td>{typeof c.workers === 'object' ? JSON.stringify(c.workers) : String(c.workers ?? '—')}</td>
                    <td><code>{String(c.master_url ?? '—')}</code></td>
                    <td>{fmtTime(c.created_at)}</td>
                    <td>{fmtTime(c.deleted_at)}</td>
                    {can.admin(me.role) && (
                      <td>
                        {!c.deleted_at && (
                          <button
                            type="button"
                            className="btn-danger"
                            onClick={() =>
                              ask({
                                title: `Delete cluster ${c.name}?`,
                                body: <p>Its Spark master and workers are stopped; tasks using it fail.</p>,
                                confirmLabel: 'Delete cluster',
                                danger: true,
                                run: async () => {
                                  await send('DELETE', apiUrl(['clusters', c.name]));
                                  setNotice(`Deleting cluster ${c.name}`);
                                  void qc.invalidateQueries({ queryKey: keys.clusters });
                                },
                              })
                            }
                          >
                            Delete
                          </button>
                        )}
                      </td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {dialog}
    </div>
  );
}
