import type { ConversationView, DropOpsRole, ProposalView } from '@dropops/protocol';
import { LocalUsers } from '../../appliance/src/auth/embedded/local-users.ts';
import { tempDir } from '../helpers.ts';
import { addOperator, type TestOperator } from '../jobs/support.ts';
import { conversationWhen, startOperator, type RunningOperator } from '../conversations/helpers.ts';
import type { TestAppliance } from '../support/appliance.ts';
import type { Browser } from '../support/browser.ts';
import type { ConsoleUser } from '../support/console-user.ts';
import { firstSignIn, newBrowser, signedInUser } from '../support/sign-in-flow.ts';

/** A person who signed in through the embedded provider, with the browser that holds their session. */
export interface Person {
  user: ConsoleUser;
  browser: Browser;
  username: string;
  password: string;
}

/** One organisation with real objects made through the API: the ids the matrix fills routes with. */
export interface Org {
  name: string;
  admin: Person;
  approver: Person;
  operator: RunningOperator;
  conversation: string;
  /** Pending, in `conversation`, targeting `operator`. */
  proposal: string;
  /** Approved; ran as `batch`. */
  approvedProposal: string;
  batch: string;
}

export interface TwoOrgs {
  a: Org & {
    viewer: Person;
    /** Enrolled, never run: the test dials with its certificate. */ certOnly: TestOperator;
  };
  b: Org;
  close(): Promise<void>;
}

// Not containing the user name, as the provider requires.
const password = (who: string) => `a long enough passphrase number ${who.length}`;

async function firstTime(relay: TestAppliance, username: string, oneTimePassword: string): Promise<Person> {
  const browser = newBrowser(relay.dataDir);
  await firstSignIn(browser, relay.url, oneTimePassword, password(username), username);
  return { user: await signedInUser(browser, relay), browser, username, password: password(username) };
}

/**
 * A person the embedded provider knows, signed in through it. In the administrator's own organisation the
 * console's user route makes the account; another organisation has no administrator yet, so its first
 * accounts are made the way the appliance makes its first administrator, in `local_users`.
 */
async function account(
  relay: TestAppliance,
  username: string,
  org: string,
  roles: DropOpsRole[],
  admin?: ConsoleUser,
): Promise<Person> {
  if (admin) {
    const made = await admin.api<{ oneTimePassword: string }>('POST', '/api/org/users', { username, roles });
    if (made.status !== 201) throw new Error(`creating ${username}: ${JSON.stringify(made.body)}`);
    return firstTime(relay, username, made.body.oneTimePassword);
  }
  const { oneTimePassword } = await new LocalUsers(relay.db.sql).create(username, org, roles);
  return firstTime(relay, username, oneTimePassword);
}

async function proposalsOf(user: ConsoleUser, conversation: string): Promise<ProposalView[]> {
  const { body } = await user.api<{ proposals: ProposalView[] }>(
    'GET',
    `/api/conversations/${conversation}/proposals`,
  );
  return body.proposals;
}

/** A typed state change in the conversation: it becomes a proposal, which this returns once it waits. */
async function propose(user: ConsoleUser, conversation: string, operator: string, command: string) {
  const before = new Set((await proposalsOf(user, conversation)).map((p) => p.id));
  const typed = await user.api('POST', `/api/conversations/${conversation}/commands`, {
    operatorIds: [operator],
    command,
  });
  if (typed.status !== 200) throw new Error(`typing ${command}: ${JSON.stringify(typed.body)}`);
  const made = (await proposalsOf(user, conversation)).find(
    (p) => !before.has(p.id) && p.state === 'pending',
  );
  if (!made) throw new Error(`${command} made no pending proposal`);
  return made.id;
}

/** The organisation's conversation, operator and proposals, all made by its approver through the API. */
async function furnish(approver: ConsoleUser, operator: RunningOperator) {
  const conversation = (await approver.api<ConversationView>('POST', '/api/conversations')).body.id;
  const bound = await approver.api('POST', `/api/conversations/${conversation}/operators`, {
    operatorIds: [operator.id],
  });
  if (bound.status !== 200) throw new Error(`binding: ${JSON.stringify(bound.body)}`);
  const approvedProposal = await propose(approver, conversation, operator.id, 'touch approved.flag');
  const approved = await approver.api<ProposalView>('POST', `/api/proposals/${approvedProposal}/approve`, {});
  if (approved.status !== 200) throw new Error(`approving: ${JSON.stringify(approved.body)}`);
  await conversationWhen(approver, conversation, (v) => v.state === 'idle', 'the approved batch to finish');
  const batch = (await proposalsOf(approver, conversation)).find((p) => p.id === approvedProposal)!.batchId!;
  const proposal = await propose(approver, conversation, operator.id, 'touch pending.flag');
  return { conversation, proposal, approvedProposal, batch };
}

/**
 * Two organisations on one relay: `default` (the first administrator's, with an approver and a viewer) and
 * `beta` (an administrator and an approver), each with a real operator, a conversation it is bound to, an
 * approved proposal and its batch, and a pending proposal. Org A also has a slot enrolled but never run.
 */
export async function twoOrgs(relay: TestAppliance): Promise<TwoOrgs> {
  const work = tempDir('dropops-matrix-');
  const adminA = await firstTime(relay, 'admin', relay.signIn.firstAdminPassword!);
  const orgA = adminA.user.org;
  const alice = await account(relay, 'alice', orgA, ['approver'], adminA.user);
  const vera = await account(relay, 'vera', orgA, ['viewer'], adminA.user);
  const beth = await account(relay, 'beth', 'beta', ['admin']);
  const bob = await account(relay, 'bob', 'beta', ['approver'], beth.user);
  const opA = await startOperator(relay, orgA, 'a-web');
  const opB = await startOperator(relay, 'beta', 'b-web');
  const certOnly = await addOperator(relay.admin, relay, work.path, 'a-cert', orgA);
  const people = [adminA, alice, vera, beth, bob];
  const a = {
    name: orgA,
    admin: adminA,
    approver: alice,
    viewer: vera,
    operator: opA,
    certOnly,
    ...(await furnish(alice.user, opA)),
  };
  const b = { name: 'beta', admin: beth, approver: bob, operator: opB, ...(await furnish(bob.user, opB)) };
  return {
    a,
    b,
    async close() {
      // A turn waiting for a decision holds up the relay's shutdown, so each conversation is stopped first.
      for (const org of [a, b])
        await org.approver.user.api('POST', `/api/conversations/${org.conversation}/stop`, {});
      for (const person of people) {
        await person.user.close();
        await person.browser.close();
      }
      await opA.stop();
      await opB.stop();
      work.remove();
    },
  };
}
