import type { PanelOperator } from '@dropops/protocol/panel';
import { ask } from '../lib/socket.ts';

/** The organisation's operators: bound ones work for this conversation; one bound elsewhere is marked so. */
export function OperatorBinding(props: {
  conversationId: string;
  operators: PanelOperator[] | null;
  boundIds: string[];
  disabled: boolean;
  onProblem: (message: string | null) => void;
}) {
  const toggle = async (operator: PanelOperator, bind: boolean) => {
    props.onProblem(null);
    try {
      await ask(bind ? 'conversation:bind' : 'conversation:unbind', {
        conversationId: props.conversationId,
        operatorIds: [operator.id],
      });
    } catch (err) {
      props.onProblem((err as Error).message);
    }
  };
  return (
    <aside className="binding" data-testid="binding">
      <h2>Operators</h2>
      {props.operators === null && <p className="hint">Loading…</p>}
      {props.operators?.length === 0 && (
        <p className="hint">No operator yet: create one in the operator panel.</p>
      )}
      <ul>
        {props.operators?.map((o) => {
          const bound = props.boundIds.includes(o.id);
          const elsewhere = !bound && o.conversationId !== null && o.conversationId !== props.conversationId;
          return (
            <li key={o.id}>
              <label>
                <input
                  type="checkbox"
                  checked={bound}
                  disabled={props.disabled || elsewhere || o.keyState === 'revoked'}
                  aria-label={`bind ${o.name}`}
                  onChange={(e) => void toggle(o, e.target.checked)}
                />
                <span className={`dot ${o.connected ? 'online' : 'offline'}`} aria-hidden="true" />
                {o.name}
              </label>
              {elsewhere && <span className="hint"> (in another conversation)</span>}
              {o.keyState === 'revoked' && <span className="hint"> (key revoked)</span>}
            </li>
          );
        })}
      </ul>
    </aside>
  );
}
