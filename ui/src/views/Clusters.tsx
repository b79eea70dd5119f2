import { useQueryClient } from '@tanstack/react-query';
import { api, can, ok, type Me } from '../api/client';
import { keys, useClusters } from '../queries';
import { links } from '../router';
import { fmtTime } from '../states';
import { ErrorBox, Spinner, useConfirm } from './common';

// Clusters are deleted by their run (its teardown, or the reaper once the run is over); an
// operator may delete an ad-hoc one, or one whose run is over (the server refuses, with the
// reason, a cluster whose run is still active).
export function Clusters({ me }: { me: Me }) {
  const clusters = useClusters();
  const qc = useQueryClient();
  const { ask, dialog, setNotice } = useConfirm();
  const operator = can.operate(me.role);
  if (clusters.isPending) return <Spinner label="Loading clusters" />;
  if (clusters.isError) return <div className="page"><ErrorBox error={clusters.error} /></div>;
  const list = clusters.data.clusters;
  return (
    <div className="page">
      <h1>Clusters</h1>
      {dialog}
      <p className="muted">A run's clusters are deleted when the run ends; ad-hoc ones here or with <code>sparkplane cluster delete NAME</code>.</p>
      {list.length === 0 ? (
        <p>No on-demand Spark cluster yet.</p>
      ) : (
        <div className="table-wrap">
          <table data-testid="clusters-table">
            <thead>
              <tr>
                <th scope="col">Name</th><th scope="col">Backend</th><th scope="col">State</th><th scope="col">Run</th>
                <th scope="col">Workers</th><th scope="col">Master</th><th scope="col">Created</th><th scope="col">Deleted</th>
                {operator ? <th scope="col"><span className="sr-only">Actions</span></th> : null}
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
                    <td>{c.workers ?? '—'}</td>
                    <td><code>{String(c.master_url ?? '—')}</code></td>
                    <td>{fmtTime(c.created_at)}</td>
                    <td>{fmtTime(c.deleted_at)}</td>
                    {operator ? (
                      <td>
                        {c.deleted_at ? null : (
                          <button
                            type="button"
                            data-testid={`delete-cluster-${c.name}`}
                            onClick={() =>
                              ask({
                                title: `Delete cluster ${c.name}?`,
                                body: <p>Its daemons or pods are stopped and its applications end.</p>,
                                confirmLabel: 'Delete cluster',
                                danger: true,
                                run: async () => {
                                  const res = await ok(api.DELETE('/api/v1/clusters/{name}', { params: { path: { name: c.name } } }));
                                  setNotice(res.message);
                                  void qc.invalidateQueries({ queryKey: keys.clusters });
                                },
                              })
                            }
                          >
                            Delete
                          </button>
                        )}
                      </td>
                    ) : null}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
