// The scripted model of the end-to-end tests, behind the Ollama wire protocol: each turn is chosen by the
// conversation so far, as a real model's answer would follow from it.
import type { OllamaFakeTurn, OllamaWireMessage } from '../support/ollama-fake.ts';

export const MOTD = 'motd.txt';
// It prints a line too: an approved command's output stays on its host, which the monitor shows.
export const MOTD_COMMAND = `echo 'managed by DropOps' > ${MOTD} && wc -c ${MOTD}`;
export const BANNER = 'banner.txt';
export const BANNER_COMMAND = `echo 'maintenance tonight' > ${BANNER}`;

const lastUser = (messages: OllamaWireMessage[]) => [...messages].reverse().find((m) => m.role === 'user');
/** The latest user message asks about `topic`, and what followed it is `tools` tool results. */
const after =
  (topic: string, tools: number) =>
  (messages: OllamaWireMessage[]): boolean => {
    const user = lastUser(messages);
    if (!user?.content.includes(topic)) return false;
    const since = messages.slice(messages.lastIndexOf(user) + 1);
    return since.filter((m) => m.role === 'tool').length === tools && messages.at(-1)?.role !== 'assistant';
  };

const runCommand = (operators: string[], command: string, explanation: string, risk: string) => ({
  toolCall: { name: 'run_command', arguments: { operators, command, explanation, risk } },
});

export const SCRIPT: OllamaFakeTurn[] = [
  // Investigate read-only on both hosts, then propose one change for both.
  {
    when: after('disk', 0),
    reply: {
      parts: [
        { text: 'Let me look at the disk on both hosts first. ' },
        runCommand(['web-1', 'web-2'], 'df -h .', 'Shows free space; read-only.', 'low'),
      ],
    },
  },
  {
    when: after('disk', 1),
    reply: {
      parts: [
        { text: 'Both hosts have room. I propose to write the message of the day on both. ' },
        runCommand(
          ['web-1', 'web-2'],
          MOTD_COMMAND,
          'Writes a one-line message of the day into motd.txt in the working directory.',
          'medium',
        ),
      ],
    },
  },
  {
    when: after('disk', 2),
    reply: { parts: [{ text: 'Done: the message of the day is written on both hosts.' }] },
  },
  // A change that will be denied (and, later, one a viewer looks at).
  {
    when: after('banner', 0),
    reply: {
      parts: [
        { text: 'I propose a maintenance banner. ' },
        runCommand(['web-1'], BANNER_COMMAND, 'Writes a maintenance banner.', 'low'),
      ],
    },
  },
  { when: after('banner', 1), reply: { parts: [{ text: 'Understood, I will wait.' }] } },
  // A model that stops answering: only the stop button ends it.
  { when: after('forever', 0), reply: { parts: [{ text: 'Thinking ' }, { hang: true }] } },
];
