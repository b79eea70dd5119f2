import { useMemo, useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { api, can, ok, type Me } from '../api/client';
import { keys, useDag } from '../queries';
import { links, navigate } from '../router';
import { ErrorBox, Spinner } from './common';

type ParamSpec = { default?: unknown; description?: string; type?: string; enum?: unknown[] };
type Kind = 'string' | 'integer' | 'number' | 'boolean' | 'enum' | 'json';

/** The form control for a param: its declared type, else the type of its default. */
export function kindOf(p: ParamSpec): Kind {
  if (Array.isArray(p.enum) && p.enum.length) return 'enum';
  switch (p.type) {
    case 'string': case 'integer': case 'number': case 'boolean': return p.type;
    case 'object': case 'array': return 'json';
  }
  const d = p.default;
  if (typeof d === 'boolean') return 'boolean';
  if (typeof d === 'number') return Number.isInteger(d) ? 'integer' : 'number';
  if (d !== null && typeof d === 'object') return 'json';
  return 'string';
}

function initial(kind: Kind, p: ParamSpec): string | boolean {
  const d = p.default;
  if (kind === 'boolean') return d === true;
  if (kind === 'json') return JSON.stringify(d ?? null, null, 2);
  return d === undefined || d === null ? '' : String(d);
}

export function TriggerForm({ dagId, me }: { dagId: string; me: Me }) {
  const dag = useDag(dagId);
  if (dag.isPending) return <Spinner label="Loading DAG" />;
  if (dag.isError) return <div className="page"><ErrorBox error={dag.error} /></div>;
  return <Form dagId={dagId} params={dag.data.params as Record<string, ParamSpec>} me={me} />;
}

function Form({ dagId, params, me }: { dagId: string; params: Record<string, ParamSpec>; me: Me }) {
  const qc = useQueryClient();
  const specs = useMemo(() => Object.entries(params).map(([name, p]) => ({ name, p, kind: kindOf(p) })), [params]);
  const [values, setValues] = useState<Record<string, string | boolean>>(() =>
    Object.fromEntries(specs.map(({ name, p, kind }) => [name, initial(kind, p)])),
  );
  const [logicalDate, setLogicalDate] = useState('');
  const [runId, setRunId] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    const conf: Record<string, unknown> = {};
    try {
      for (const { name, kind } of specs) {
        const v = values[name];
        if (kind === 'boolean') conf[name] = v === true;
        else if (kind === 'integer' || kind === 'number') {
          if (v === '') continue;
          const n = Number(v);
          if (!Number.isFinite(n) || (kind === 'integer' && !Number.isInteger(n))) throw new Error(`${name}: expected ${kind === 'integer' ? 'an integer' : 'a number'}`);
          conf[name] = n;
        } else if (kind === 'json') {
          try {
            conf[name] = JSON.parse(String(v));
          } catch {
            throw new Error(`${name}: not valid JSON`);
          }
        } else if (kind === 'enum') {
          const spec = params[name].enum!;
          conf[name] = spec.find((x) => String(x) === v) ?? v;
        } else conf[name] = v;
      }
    } catch (err) {
      setError(err);
      return;
    }
    const body: { conf: Record<string, unknown>; logical_date?: string; run_id?: string } = { conf };
    if (logicalDate) body.logical_date = new Date(logicalDate).toISOString();
    if (runId.trim()) body.run_id = runId.trim();
    setBusy(true);
    try {
      const run = await ok(api.POST('/api/v1/dags/{dag_id}/runs', { params: { path: { dag_id: dagId } }, body: body as never /* conf is a free-form object */ }));
      void qc.invalidateQueries({ queryKey: keys.grid(dagId) });
      void qc.invalidateQueries({ queryKey: keys.runs(dagId) });
      void qc.invalidateQueries({ queryKey: keys.dags });
      navigate(links.dag(dagId, 'grid', run.run_id));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (!can.operate(me.role)) {
    return <div className="page"><p role="alert">Your role ({me.role}) cannot trigger runs.</p></div>;
  }
  return (
    <div className="page narrow">
      <p className="crumbs"><a href={links.dags()}>DAGs</a> / <a href={links.dag(dagId)}>{dagId}</a> / trigger</p>
      <h1>Trigger {dagId}</h1>
      <form onSubmit={submit} className="form" data-testid="trigger-form">
        {specs.length > 0 && (
          <fieldset>
            <legend>Params</legend>
            {specs.map(({ name, p, kind }) => {
              const id = `param-${name}`;
              const desc = p.description ? <small id={`${id}-desc`} className="muted">{p.description}</small> : null;
              const described = p.description ? `${id}-desc` : undefined;
              const set = (v: string | boolean) => setValues((s) => ({ ...s, [name]: v }));
              if (kind === 'boolean') {
                return (
                  <div className="field" key={name}>
                    <label className="check">
                      <input id={id} type="checkbox" name={name} checked={values[name] === true} onChange={(e) => set(e.target.checked)} aria-describedby={described} />
                      {name}
                    </label>
                    {desc}
                  </div>
                );
              }
              return (
                <div className="field" key={name}>
                  <label htmlFor={id}>
                    {name} <span className="muted small">({kind})</span>
                  </label>
                  {kind === 'enum' ? (
                    <select id={id} name={name} value={String(values[name])} onChange={(e) => set(e.target.value)} aria-describedby={described}>
                      {p.enum!.map((o) => (
                        <option key={String(o)} value={String(o)}>{String(o)}</option>
                      ))}
                    </select>
                  ) : kind === 'json' ? (
                    <textarea id={id} name={name} rows={4} value={String(values[name])} onChange={(e) => set(e.target.value)} aria-describedby={described} spellCheck={false} />
                  ) : (
                    <input
                      id={id}
                      name={name}
                      type={kind === 'string' ? 'text' : 'number'}
                      step={kind === 'integer' ? 1 : kind === 'number' ? 'any' : undefined}
                      inputMode={kind === 'integer' ? 'numeric' : kind === 'number' ? 'decimal' : undefined}
                      value={String(values[name])}
                      onChange={(e) => set(e.target.value)}
                      aria-describedby={described}
                    />
                  )}
                  {desc}
                </div>
              );
            })}
          </fieldset>
        )}
        <details>
          <summary>Advanced</summary>
          <div className="field">
            <label htmlFor="logical-date">Logical date (optional)</label>
            <input id="logical-date" type="datetime-local" step={1} value={logicalDate} onChange={(e) => setLogicalDate(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="run-id">Run id (optional)</label>
            <input id="run-id" value={runId} onChange={(e) => setRunId(e.target.value)} />
          </div>
        </details>
        <ErrorBox error={error} />
        <div className="actions">
          <a className="btn" href={links.dag(dagId)}>Cancel</a>
          <button type="submit" className="btn-primary" disabled={busy} data-testid="trigger-submit">
            {busy ? 'Triggering…' : 'Trigger run'}
          </button>
        </div>
      </form>
    </div>
  );
}
