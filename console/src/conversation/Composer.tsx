import type { PanelOperator } from '@dropops/protocol/panel';
import { useState, type FormEvent } from 'react';

/** The message to the model. */
export function MessageBox(props: { disabled: boolean; onSend: (text: string) => Promise<void> }) {
  const [text, setText] = useState('');
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!text.trim()) return;
    await props.onSend(text.trim());
    setText('');
  };
  return (
    <form className="composer" onSubmit={(e) => void submit(e)}>
      <label htmlFor="message">Ask the model</label>
      <textarea
        id="message"
        name="message"
        rows={2}
        value={text}
        placeholder="What is using the disk on web-1?"
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey) void submit(e);
        }}
      />
      <button type="submit" disabled={props.disabled || !text.trim()}>
        Send
      </button>
    </form>
  );
}

/** A command the person types for bound operators; read-only runs at once, anything else is proposed. */
export function CommandBox(props: {
  bound: PanelOperator[];
  disabled: boolean;
  onRun: (operatorIds: string[], command: string) => Promise<void>;
}) {
  const [command, setCommand] = useState('');
  // Every bound operator is a target unless the person unticks it.
  const [excluded, setExcluded] = useState<Set<string>>(new Set());
  const chosen = props.bound.filter((o) => !excluded.has(o.id)).map((o) => o.id);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!command.trim() || chosen.length === 0) return;
    await props.onRun(chosen, command.trim());
    setCommand('');
  };
  return (
    <form className="composer command" onSubmit={(e) => void submit(e)}>
      <label htmlFor="command">Run a command directly</label>
      <div className="targets" data-testid="command-targets">
        {props.bound.length === 0 && <span className="hint">Bind an operator first.</span>}
        {props.bound.map((o) => (
          <label key={o.id} className="chip">
            <input
              type="checkbox"
              checked={!excluded.has(o.id)}
              onChange={(e) => {
                const next = new Set(excluded);
                if (e.target.checked) next.delete(o.id);
                else next.add(o.id);
                setExcluded(next);
              }}
            />
            {o.name}
          </label>
        ))}
      </div>
      <input
        id="command"
        name="command"
        className="mono"
        value={command}
        placeholder="df -h"
        autoComplete="off"
        spellCheck={false}
        onChange={(e) => setCommand(e.target.value)}
      />
      <button type="submit" disabled={props.disabled || !command.trim() || chosen.length === 0}>
        Run
      </button>
    </form>
  );
}
