import { useEffect } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, can, ok, setCsrfToken, setUnauthorizedHandler, type Me } from './api/client';
import { startEventStream, useStreamStatus } from './events';
import { keys } from './queries';
import { links, useRoute } from './router';
import { Login } from './views/Login';
import { DagList } from './views/DagList';
import { DagPage } from './views/DagPage';
import { RunPage } from './views/RunPage';
import { TriggerForm } from './views/TriggerForm';
import { Clusters } from './views/Clusters';
import { Access } from './views/Access';
import { Connections } from './views/Connections';
import { ErrorBox, Spinner } from './views/common';

async function fetchMe(): Promise<Me | null> {
  try {
    const me = await ok(api.GET('/api/v1/auth/me'), { quiet401: true });
    setCsrfToken(me.csrf_token);
    return me;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

export function App() {
  const qc = useQueryClient();
  const me = useQuery({ queryKey: keys.me, queryFn: fetchMe, staleTime: Infinity });

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setCsrfToken('');
      qc.setQueryData(keys.me, null);
    });
  }, [qc]);

  if (me.isPending) return <Spinner label="Loading Sparkplane" />;
  if (me.isError) return <main className="page"><ErrorBox error={me.error} /></main>;
  if (!me.data) return <Login />;
  return <Shell me={me.data} />;
}

function Shell({ me }: { me: Me }) {
  const qc = useQueryClient();
  const route = useRoute();
  const stream = useStreamStatus();

  useEffect(() => startEventStream(qc), [qc]);

  const logout = async () => {
    try {
      await ok(api.POST('/api/v1/auth/logout'));
    } catch {
      // the session is gone either way
    }
    setCsrfToken('');
    qc.clear();
    qc.setQueryData(keys.me, null);
  };

  const [section] = route.parts;
  return (
    <>
      <a className="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>
        Skip to content
      </a>
      <header className="top">
        <a className="brand" href={links.dags()}>Sparkplane</a>
        <nav aria-label="Main">
          <a href={links.dags()} aria-current={!section || section === 'dags' ? 'page' : undefined}>DAGs</a>
          <a href={links.clusters()} aria-current={section === 'clusters' ? 'page' : undefined}>Clusters</a>
          {can.admin(me.role) && (
            <a href={links.connections()} aria-current={section === 'connections' ? 'page' : undefined}>
              Connections
            </a>
          )}
          <a href={links.access()} aria-current={section === 'access' ? 'page' : undefined}>
            {can.admin(me.role) ? 'Users & tokens' : 'Tokens'}
          </a>
        </nav>
        <span className={`stream stream-${stream}`} data-testid="stream-status" title="Live updates">
          <span aria-hidden="true">●</span> {stream}
        </span>
        <span className="who" data-testid="whoami">
          {me.username} <small>({me.role})</small>
        </span>
        <button type="button" className="btn-link" onClick={logout}>Log out</button>
      </header>
      <main id="main" tabIndex={-1}>
        <Routed me={me} />
      </main>
    </>
  );
}

function Routed({ me }: { me: Me }) {
  const { parts } = useRoute();
  const [a, dag, b, run, c, task] = parts;
  if (!a || (a === 'dags' && !dag)) return <DagList me={me} />;
  if (a === 'clusters') return <Clusters me={me} />;
  if (a === 'connections') return <Connections me={me} />;
  if (a === 'access') return <Access me={me} />;
  if (a === 'dags' && dag) {
    if (b === 'trigger') return <TriggerForm key={dag} dagId={dag} me={me} />;
    if (b === 'runs' && run) return <RunPage key={dag + '/' + run} dagId={dag} runId={run} taskId={c === 'tasks' ? task : undefined} me={me} />;
    return <DagPage key={dag} dagId={dag} tab={b || 'grid'} me={me} />;
  }
  return (
    <div className="page">
      <h1>Not found</h1>
      <p><a href={links.dags()}>Back to the DAGs</a></p>
    </div>
  );
}
