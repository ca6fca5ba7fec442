import { list, required, type Command, type Values } from '@dropops/protocol/cli';
import { AdminClientError, type AdminClient } from '../admin-client.ts';
import type { ApprovalPolicyInput } from './policy.ts';

type Options = NonNullable<Command['options']>;

const print = (text: string): void => {
  process.stdout.write(text + '\n');
};

const describePolicy = (p: ApprovalPolicyInput) =>
  `${p.org}/${p.tag}: ${p.requiredApprovers} distinct approver(s)${p.requireReason ? ', each with a written reason' : ''}`;

/** `operator tag` and `policy set | list | remove`: what decides how many people approve a change. */
export function approvalCommands(
  client: (values: Values) => AdminClient,
  connection: Options,
): Record<string, Command> {
  const json = { json: { type: 'boolean' as const } };
  return {
    'operator tag': {
      summary: "set an operator's tags (replacing the old ones), which approval policies key on",
      usage: 'OPERATOR --tags production,eu [--data-dir DIR] [--url URL] [--json]',
      details: 'OPERATOR is an id, a name, or org/name. --tags "" removes every tag.',
      options: { ...connection, ...json, tags: { type: 'string', multiple: true } },
      async run(values, [ref]) {
        if (!ref) throw new AdminClientError('BAD_ARGUMENT', 'name the operator (id, name or org/name).');
        if (values.tags === undefined)
          throw new AdminClientError('BAD_ARGUMENT', 'give --tags (comma-separated).');
        const result = await client(values).call<{ operator: { org: string; name: string; tags: string[] } }>(
          'POST',
          `/api/operators/${encodeURIComponent(ref)}/tags`,
          { tags: list(values, 'tags') },
        );
        if (values.json) return print(JSON.stringify(result, null, 2));
        const { operator } = result;
        print(`${operator.org}/${operator.name} tags: ${operator.tags.join(', ') || '(none)'}`);
      },
    },
    'policy set': {
      summary: 'require M distinct approvers (and optionally a reason) for operators with a tag',
      usage: '--org ORG --tag TAG --approvers M [--require-reason] [--data-dir DIR] [--url URL]',
      details:
        'A proposal takes the strictest policy among its targets\u2019 tags; without one, one approver suffices.\nM is 1 to 3; the same person never counts twice.',
      options: {
        ...connection,
        org: { type: 'string' },
        tag: { type: 'string' },
        approvers: { type: 'string' },
        'require-reason': { type: 'boolean' },
      },
      async run(values) {
        const { policy } = await client(values).call<{ policy: ApprovalPolicyInput }>(
          'POST',
          '/api/approval-policies',
          {
            org: required(values, 'org'),
            tag: required(values, 'tag'),
            requiredApprovers: Number(required(values, 'approvers')),
            requireReason: values['require-reason'] === true,
          },
        );
        print(`policy ${describePolicy(policy)}`);
      },
    },
    'policy list': {
      summary: 'list the approval policies of every organisation',
      usage: '[--data-dir DIR] [--url URL] [--json]',
      options: { ...connection, ...json },
      async run(values) {
        const { policies } = await client(values).call<{ policies: ApprovalPolicyInput[] }>(
          'GET',
          '/api/approval-policies',
        );
        if (values.json) return print(JSON.stringify(policies, null, 2));
        if (policies.length === 0) return print('no policies: every proposal needs one approver.');
        for (const p of policies) print(describePolicy(p));
      },
    },
    'policy remove': {
      summary: "remove an organisation's policy for a tag",
      usage: '--org ORG --tag TAG [--data-dir DIR] [--url URL]',
      options: { ...connection, org: { type: 'string' }, tag: { type: 'string' } },
      async run(values) {
        await client(values).call('POST', '/api/approval-policies/remove', {
          org: required(values, 'org'),
          tag: required(values, 'tag'),
        });
        print(`policy for ${values.org}/${values.tag} removed.`);
      },
    },
  };
}
