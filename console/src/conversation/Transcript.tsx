import { useEffect, useRef } from 'react';
import type { Entry } from './fold.ts';

const pretty = (value: unknown) => {
  if (typeof value !== 'string') return JSON.stringify(value, null, 2);
  try {
    return JSON.stringify(JSON.parse(value), null, 2);
  } catch {
    return value;
  }
};

/** The transcript: people, the model (streaming), tool activity, proposals, runs and errors, in order. */
export function Transcript(props: { entries: Entry[]; onReview: (proposalId: string) => void }) {
  const end = useRef<HTMLDivElement>(null);
  // Braces: scrollIntoView returns a promise in newer browsers, and an effect may return only its clean-up.
  useEffect(() => {
    end.current?.scrollIntoView({ block: 'end' });
  }, [props.entries]);
  return (
    <div className="transcript" data-testid="transcript" aria-live="polite">
      {props.entries.length === 0 && (
        <p className="hint">Nothing yet. Bind an operator, then ask or run something.</p>
      )}
      {props.entries.map((entry) => (
        <EntryView key={`${entry.kind}-${entry.seq}`} entry={entry} onReview={props.onReview} />
      ))}
      <div ref={end} />
    </div>
  );
}

function EntryView({ entry, onReview }: { entry: Entry; onReview: (id: string) => void }) {
  switch (entry.kind) {
    case 'user':
      return (
        <div className="bubble user">
          <span className="by">{entry.by}</span>
          <p>{entry.text}</p>
        </div>
      );
    case 'assistant':
      return (
        <div className={`bubble assistant${entry.streaming ? ' streaming' : ''}`} data-testid="assistant">
          <span className="by">model</span>
          <p>{entry.text}</p>
        </div>
      );
    case 'tool':
      return (
        <details className="tool" data-testid="tool-activity">
          <summary>
            <span className="tool-name">{entry.name}</span>
            {entry.result === null ? <span className="pending"> running…</span> : <span> done</span>}
          </summary>
          {entry.arguments !== null && <pre className="mono">{pretty(entry.arguments)}</pre>}
          {entry.result !== null && <pre className="mono result">{pretty(entry.result)}</pre>}
        </details>
      );
    case 'proposal': {
      const p = entry.proposal;
      return (
        <div className={`proposal-card proposal-${p.state}`} data-testid="proposal-card">
          <div>
            <strong>Proposed change</strong> <span className={`risk risk-${p.risk}`}>{p.risk} risk</span>{' '}
            <span className="proposal-state">{p.state}</span>
          </div>
          <code className="mono">{p.command ?? `sha256 ${p.commandSha256}`}</code>
          <div className="hosts">on {p.targets.map((t) => t.hostname ?? t.operator).join(', ')}</div>
          <button type="button" onClick={() => onReview(p.id)}>
            {p.state === 'pending' ? 'Review' : 'Details'}
          </button>
        </div>
      );
    }
    case 'execution': {
      const e = entry.execution;
      return (
        <div className={`execution execution-${e.state}`} data-testid="execution">
          <span className="operator">{e.operator}</span> <span className="exec-state">{e.state}</span>
          {e.mode && <span className="mode"> · {e.mode}</span>}
          {e.exitCode !== null && <span> · exit {e.exitCode}</span>}
          {e.errorMessage && <span className="error-text"> · {e.errorMessage}</span>}
        </div>
      );
    }
    case 'error':
      return (
        <p className="error-entry" role="alert">
          {entry.message}
        </p>
      );
  }
}
