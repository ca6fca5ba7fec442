import type { SessionView } from '@dropops/protocol/session';
import { useEffect, useState } from 'react';
import { AuditPage } from './audit/AuditPage.tsx';
import { ConversationPage } from './conversation/ConversationPage.tsx';
import { HomePage } from './conversation/HomePage.tsx';
import { api, ApiError, setCsrfToken } from './lib/http.ts';
import { navigate, useRoute, type Route } from './lib/route.ts';
import { SessionContext } from './lib/session.ts';
import { OperatorPanel } from './operators/OperatorPanel.tsx';

/** The signed-in shell: who you are, the pages, sign-out. Without a session the browser goes to the sign-in. */
export function App() {
  const [session, setSession] = useState<SessionView | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const route = useRoute();

  useEffect(() => {
    api<SessionView>('GET', '/api/session').then(
      (view) => {
        setCsrfToken(view.csrfToken);
        setSession(view);
      },
      (err: unknown) => {
        if (!(err instanceof ApiError && err.status === 401)) setProblem((err as Error).message);
      },
    );
  }, []);

  if (problem)
    return (
      <p role="alert" className="page-problem">
        {problem}
      </p>
    );
  if (!session) return <p className="loading">Loading the console…</p>;

  const signOut = async () => {
    const { endSessionUrl } = await api<{ endSessionUrl: string }>('POST', '/auth/logout');
    location.assign(endSessionUrl);
  };

  return (
    <SessionContext.Provider value={session}>
      <header className="shell">
        <a
          className="brand"
          href="/"
          onClick={(e) => {
            e.preventDefault();
            navigate('/');
          }}
        >
          DropOps
        </a>
        <nav>
          <NavLink route={route} page="home" path="/" label="Conversations" />
          <NavLink route={route} page="operators" path="/operators" label="Operators" />
          <NavLink route={route} page="audit" path="/audit" label="Audit" />
        </nav>
        <span className="who" data-testid="who">
          {session.user.name} · {session.org} · {session.roles.join(', ')}
        </span>
        <button type="button" className="secondary" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <main className="page">
        <Page route={route} />
      </main>
    </SessionContext.Provider>
  );
}

function NavLink(props: { route: Route; page: Route['page']; path: string; label: string }) {
  const active =
    props.route.page === props.page || (props.page === 'home' && props.route.page === 'conversation');
  return (
    <a
      href={props.path}
      aria-current={active ? 'page' : undefined}
      onClick={(e) => {
        e.preventDefault();
        navigate(props.path);
      }}
    >
      {props.label}
    </a>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'conversation':
      return <ConversationPage key={route.id} id={route.id} />;
    case 'operators':
      return <OperatorPanel />;
    case 'audit':
      return <AuditPage />;
    default:
      return <HomePage />;
  }
}
