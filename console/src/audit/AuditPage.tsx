import { AUDIT_ACTIONS, type AuditEventView } from '@dropops/protocol/panel';
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { time } from '../lib/format.ts';
import { api, query } from '../lib/http.ts';
import { HostHistory } from './HostHistory.tsx';

interface Filter {
  action: string;
  actor: string;
  since: string;
  until: string;
}

/** datetime-local gives local time without a zone; the relay wants an instant. */
const instant = (local: string) => (local ? new Date(local).toISOString() : undefined);
const filterQuery = (f: Filter) =>
  query({ action: f.action, actor: f.actor.trim(), since: instant(f.since), until: instant(f.until) });

/**
 * The appliance's own metadata events (who, what, when, from which address), filterable and exported as JSON
 * Lines; and, below, a host's own history read live from its operator, which the appliance does not keep.
 */
export function AuditPage() {
  const [filter, setFilter] = useState<Filter>({ action: '', actor: '', since: '', until: '' });
  const [applied, setApplied] = useState(filter);
  const [events, setEvents] = useState<AuditEventView[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  const load = useCallback(async (f: Filter) => {
    try {
      const { events: list } = await api<{ events: AuditEventView[] }>(
        'GET',
        `/api/org/audit${filterQuery(f)}`,
      );
      setEvents(list);
      setProblem(null);
    } catch (err) {
      setProblem((err as Error).message);
    }
  }, []);
  useEffect(() => void load(applied), [applied, load]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setApplied(filter);
  };
  const set = (key: keyof Filter) => (e: { target: { value: string } }) =>
    setFilter({ ...filter, [key]: e.target.value });

  return (
    <div className="audit">
      <h1>Audit</h1>
      <form className="filters" onSubmit={submit}>
        <label>
          Action
          <select name="action" value={filter.action} onChange={set('action')}>
            <option value="">any</option>
            {AUDIT_ACTIONS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
        <label>
          Who
          <input name="actor" value={filter.actor} placeholder="name" onChange={set('actor')} />
        </label>
        <label>
          From
          <input name="since" type="datetime-local" value={filter.since} onChange={set('since')} />
        </label>
        <label>
          To
          <input name="until" type="datetime-local" value={filter.until} onChange={set('until')} />
        </label>
        <button type="submit">Filter</button>
        <a className="button secondary" href={`/api/org/audit/export${filterQuery(applied)}`} download>
          Export JSON Lines
        </a>
      </form>
      {problem && <p role="alert">{problem}</p>}
      <table className="audit-table" data-testid="audit-table">
        <thead>
          <tr>
            <th>When</th>
            <th>Who</th>
            <th>Address</th>
            <th>Action</th>
            <th>Subject</th>
            <th>Details</th>
          </tr>
        </thead>
        <tbody>
          {events?.length === 0 && (
            <tr>
              <td colSpan={6} className="hint">
                No event matches.
              </td>
            </tr>
          )}
          {events
            ?.slice()
            .reverse()
            .map((e) => (
              <tr key={e.id} data-testid="audit-row">
                <td>{time(e.at)}</td>
                <td>{e.actorName}</td>
                <td className="mono">{e.ip ?? '—'}</td>
                <td>{e.action}</td>
                <td className="mono">{e.subject ?? '—'}</td>
                <td className="mono details">{JSON.stringify(e.details)}</td>
              </tr>
            ))}
        </tbody>
      </table>
      <HostHistory />
    </div>
  );
}
