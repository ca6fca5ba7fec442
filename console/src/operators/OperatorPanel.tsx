import type { IssuedKey, PanelOperator } from '@dropops/protocol/panel';
import { useState, type FormEvent } from 'react';
import { shortHash, time } from '../lib/format.ts';
import { api } from '../lib/http.ts';
import { navigate } from '../lib/route.ts';
import { isAdmin, useSession } from '../lib/session.ts';
import { useOperators } from './useOperators.ts';

/**
 * The operator slots of the organisation, live: connection, host fingerprint, certificate expiry, key state,
 * the conversation each works for. Admins create slots (the key is shown once, with the enroll command line),
 * refresh or revoke keys and stop operators.
 */
export function OperatorPanel() {
  const session = useSession();
  const admin = isAdmin(session);
  const { operators, problem, refresh } = useOperators();
  const [issued, setIssued] = useState<IssuedKey | null>(null);
  const [actionProblem, setActionProblem] = useState<string | null>(null);

  const act = async (work: () => Promise<unknown>) => {
    setActionProblem(null);
    try {
      await work();
      await refresh();
    } catch (err) {
      setActionProblem((err as Error).message);
    }
  };
  const post = (operator: PanelOperator, verb: string) =>
    api<unknown>('POST', `/api/org/operators/${operator.id}/${verb}`);

  return (
    <div className="panel">
      <h1>Operators</h1>
      {admin && (
        <CreateSlot onIssued={(key) => act(async () => setIssued(key))} onProblem={setActionProblem} />
      )}
      {issued && <IssuedKeyView issued={issued} onDone={() => setIssued(null)} />}
      {(problem || actionProblem) && <p role="alert">{actionProblem ?? problem}</p>}
      <table className="operators" data-testid="operator-table">
        <thead>
          <tr>
            <th>Name</th>
            <th>Status</th>
            <th>Host fingerprint</th>
            <th>Certificate expires</th>
            <th>Key</th>
            <th>Conversation</th>
            {admin && <th>Actions</th>}
          </tr>
        </thead>
        <tbody>
          {operators?.length === 0 && (
            <tr>
              <td colSpan={7} className="hint">
                No operator slot yet.
              </td>
            </tr>
          )}
          {operators?.map((o) => (
            <tr key={o.id} data-testid={`operator-${o.name}`}>
              <td>{o.name}</td>
              <td>
                <span className={`dot ${o.connected ? 'online' : 'offline'}`} aria-hidden="true" />
                <span data-testid="operator-status">{o.connected ? 'connected' : 'offline'}</span>
                {o.lastSeenAt && !o.connected && <span className="hint"> · seen {time(o.lastSeenAt)}</span>}
              </td>
              <td className="mono" title={o.fingerprint ?? undefined}>
                {o.fingerprint ? shortHash(o.fingerprint) : 'not enrolled'}
              </td>
              <td>{o.certificateNotAfter ? time(o.certificateNotAfter) : '—'}</td>
              <td data-testid="operator-key">{o.keyState}</td>
              <td>
                {o.conversationId ? (
                  <a
                    href={`/conversations/${o.conversationId}`}
                    onClick={(e) => {
                      e.preventDefault();
                      navigate(`/conversations/${o.conversationId}`);
                    }}
                  >
                    open
                  </a>
                ) : (
                  <span className="hint">free</span>
                )}
              </td>
              {admin && (
                <td className="row-actions">
                  <button
                    type="button"
                    className="secondary"
                    onClick={() =>
                      void act(async () =>
                        setIssued(await api<IssuedKey>('POST', `/api/org/operators/${o.id}/refresh-key`)),
                      )
                    }
                  >
                    New key
                  </button>
                  <button
                    type="button"
                    className="danger"
                    disabled={o.keyState === 'revoked'}
                    onClick={() => {
                      if (confirm(`Revoke the key of ${o.name}? Its operator is cut off at once.`))
                        void act(() => post(o, 'revoke-key'));
                    }}
                  >
                    Revoke key
                  </button>
                  <button
                    type="button"
                    className="secondary"
                    disabled={!o.connected}
                    onClick={() => void act(() => post(o, 'stop'))}
                  >
                    Stop
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      <p className="hint">
        To work with an operator, bind it to a conversation from the conversation page. An operator works for
        one conversation at a time.
      </p>
    </div>
  );
}

function CreateSlot(props: { onIssued: (key: IssuedKey) => void; onProblem: (message: string) => void }) {
  const [name, setName] = useState('');
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const key = await api<IssuedKey>('POST', '/api/org/operators', { name: name.trim() });
      setName('');
      props.onIssued(key);
    } catch (err) {
      props.onProblem((err as Error).message);
    }
  };
  return (
    <form className="create-slot" onSubmit={(e) => void submit(e)}>
      <label htmlFor="slot-name">New operator slot</label>
      <input
        id="slot-name"
        name="name"
        value={name}
        placeholder="web-1"
        pattern="[a-z0-9][a-z0-9\-]{0,62}"
        title="1 to 63 lowercase letters, digits and dashes"
        required
        onChange={(e) => setName(e.target.value)}
      />
      <button type="submit">Create slot</button>
    </form>
  );
}

/** The key, once: it is not stored in clear and cannot be shown again. */
function IssuedKeyView({ issued, onDone }: { issued: IssuedKey; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <section className="issued" data-testid="issued-key" aria-labelledby="issued-title">
      <h2 id="issued-title">Key for {issued.operator.name}: shown only now</h2>
      <p>On the server, in the directory the operator keeps its record in, run:</p>
      <pre className="mono" data-testid="enroll-command">
        {issued.enrollCommand}
      </pre>
      <p>
        then <code className="mono">npx dropops-operator run</code>. The key works for one host.
      </p>
      <div className="actions">
        <button
          type="button"
          onClick={() =>
            void navigator.clipboard.writeText(issued.enrollCommand).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }
        >
          {copied ? 'Copied' : 'Copy command'}
        </button>
        <button type="button" className="secondary" onClick={onDone}>
          I have saved it
        </button>
      </div>
    </section>
  );
}
