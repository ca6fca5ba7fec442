import type { ProposalView } from '@dropops/protocol/console';
import type { SessionView } from '@dropops/protocol/session';
import { useEffect, useRef, useState } from 'react';
import { time } from '../lib/format.ts';
import { mayApprove } from '../lib/session.ts';
import { ask } from '../lib/socket.ts';

/**
 * One decision for every host a proposal names: the exact command, the model's explanation and risk, each
 * host's classifier reason and hostname, the order they run in, whether to go on after a failure, and a
 * written reason when the policy asks for one. Viewers see it all and cannot decide.
 */
export function ApprovalDialog(props: { proposal: ProposalView; session: SessionView; onClose: () => void }) {
  const { proposal, session } = props;
  const dialog = useRef<HTMLDialogElement>(null);
  const [continueOnFailure, setContinueOnFailure] = useState(false);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
    return () => element?.close();
  }, []);

  const pending = proposal.state === 'pending';
  const allowed = mayApprove(session);
  const alreadyApproved = proposal.approvals.some((a) => a.name === session.user.name);
  const reasonMissing = proposal.reasonRequired && reason.trim() === '';

  const decide = async (approve: boolean) => {
    setBusy(true);
    setProblem(null);
    try {
      const written = reason.trim() || undefined;
      if (approve)
        await ask('proposal:approve', { proposalId: proposal.id, continueOnFailure, reason: written });
      else await ask('proposal:deny', { proposalId: proposal.id, reason: written });
      props.onClose();
    } catch (err) {
      setProblem((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog
      ref={dialog}
      className="approval"
      aria-labelledby="approval-title"
      data-testid="approval-dialog"
      onCancel={props.onClose}
    >
      <h2 id="approval-title">{pending ? 'Approve this change?' : `This proposal is ${proposal.state}`}</h2>
      <p className="command-label">Command, exactly as it will run on each host:</p>
      <pre className="mono command-text" data-testid="approval-command">
        {proposal.command ?? `(no longer held; sha256 ${proposal.commandSha256})`}
      </pre>
      {proposal.diff && (
        <>
          <p className="command-label">The change to the file, as the model wrote it:</p>
          <pre className="mono diff" data-testid="approval-diff">
            {proposal.diff}
          </pre>
        </>
      )}
      <dl className="facts">
        <dt>Why (the model's explanation)</dt>
        <dd>{proposal.explanation ?? '—'}</dd>
        <dt>Risk</dt>
        <dd>
          <span className={`risk risk-${proposal.risk}`}>{proposal.risk}</span>
        </dd>
        <dt>Approvals</dt>
        <dd>
          {proposal.approvals.length} of {proposal.requiredApprovals}
          {proposal.approvals.length > 0 && ` (${proposal.approvals.map((a) => a.name).join(', ')})`}
          {proposal.policyTags.length > 0 && ` · policy: ${proposal.policyTags.join(', ')}`}
        </dd>
        <dt>Expires</dt>
        <dd>{time(proposal.expiresAt)}</dd>
      </dl>
      <table className="targets-table">
        <caption>
          {proposal.targets.length} host{proposal.targets.length === 1 ? '' : 's'}, run one after another in
          this order
        </caption>
        <thead>
          <tr>
            <th>#</th>
            <th>Hostname</th>
            <th>Operator</th>
            <th>Why the operator asks for approval</th>
          </tr>
        </thead>
        <tbody>
          {proposal.targets.map((t, i) => (
            <tr key={t.operatorId}>
              <td>{i + 1}</td>
              <td data-testid="approval-hostname">{t.hostname ?? '(did not answer)'}</td>
              <td>{t.operator}</td>
              <td>{t.classifierReason}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {pending && (
        <>
          {proposal.targets.length > 1 && (
            <label className="check">
              <input
                type="checkbox"
                name="continueOnFailure"
                checked={continueOnFailure}
                onChange={(e) => setContinueOnFailure(e.target.checked)}
              />
              Go on with the next hosts if one fails (otherwise the run stops at the first failure)
            </label>
          )}
          <label className="reason">
            Reason{proposal.reasonRequired ? ' (the policy requires one)' : ' (optional)'}
            <textarea
              name="reason"
              rows={2}
              value={reason}
              required={proposal.reasonRequired}
              onChange={(e) => setReason(e.target.value)}
            />
          </label>
        </>
      )}
      {pending && !allowed && (
        <p className="notice" role="status" data-testid="cannot-approve">
          Your role ({session.roles.join(', ')}) can see proposals but not decide them; an approver or admin
          must.
        </p>
      )}
      {problem && <p role="alert">{problem}</p>}
      <div className="actions">
        {pending && (
          <>
            <button
              type="button"
              className="approve"
              disabled={busy || !allowed || alreadyApproved || reasonMissing}
              onClick={() => void decide(true)}
            >
              {alreadyApproved
                ? 'You approved'
                : `Approve for ${proposal.targets.length} host${proposal.targets.length === 1 ? '' : 's'}`}
            </button>
            <button
              type="button"
              className="danger"
              disabled={busy || !allowed}
              onClick={() => void decide(false)}
            >
              Deny
            </button>
          </>
        )}
        <button type="button" className="secondary" onClick={props.onClose}>
          Close
        </button>
      </div>
    </dialog>
  );
}
