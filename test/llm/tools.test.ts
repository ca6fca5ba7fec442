import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parseToolCall, TOOL_NAMES, toolSpecs } from '../../appliance/src/llm/index.ts';

const validRun = {
  operators: ['web-1', 'web-2'],
  command: 'systemctl restart nginx',
  explanation: 'Restarts nginx so the new configuration is read.',
  risk: 'medium',
};

describe('tool definitions', () => {
  it('offers exactly the five tools, none of which approves or executes by itself', () => {
    expect(TOOL_NAMES).toEqual([
      'run_command',
      'read_file',
      'write_file',
      'fetch_session_history',
      'list_operators',
    ]);
    expect(TOOL_NAMES.filter((n) => /approve|deny|confirm|execute/i.test(n))).toEqual([]);
  });

  it('turns every zod schema into a closed JSON Schema object with its required fields', () => {
    const specs = Object.fromEntries(toolSpecs().map((s) => [s.name, s]));
    expect(specs.run_command!.parameters).toMatchObject({
      type: 'object',
      required: ['operators', 'command', 'explanation', 'risk'],
      additionalProperties: false,
      properties: { risk: { enum: ['low', 'medium', 'high'] }, operators: { type: 'array', minItems: 1 } },
    });
    expect(specs.write_file!.parameters).toMatchObject({ required: ['operator', 'path', 'diff'] });
    expect(specs.list_operators!.parameters).toEqual({
      type: 'object',
      properties: {},
      additionalProperties: false,
    });
    for (const spec of Object.values(specs)) {
      expect(spec.parameters).not.toHaveProperty('$schema');
      expect(spec.description.length).toBeGreaterThan(10);
    }
  });

  it('gives providers schemas that agree with the validator on good and bad arguments', () => {
    const ajv = new Ajv2020({ strict: false });
    const schema = ajv.compile(toolSpecs(['run_command'])[0]!.parameters);
    expect(schema(validRun)).toBe(true);
    for (const bad of [
      { ...validRun, risk: 'none' },
      { ...validRun, operators: [] },
      { ...validRun, approved: true },
      { operators: ['web-1'], command: 'ls' },
    ]) {
      expect(schema(bad)).toBe(false);
      expect(parseToolCall({ name: 'run_command', arguments: bad }).type).toBe('tool_error');
    }
  });
});

describe('parseToolCall', () => {
  it('accepts a known tool with valid arguments, as an object or a JSON string', () => {
    const fromObject = parseToolCall({ id: 'call-1', name: 'run_command', arguments: validRun });
    expect(fromObject).toEqual({
      type: 'tool_call',
      call: { id: 'call-1', name: 'run_command', arguments: validRun },
    });
    const fromString = parseToolCall({
      name: 'read_file',
      arguments: '{"operator":"web-1","path":"/etc/hosts"}',
    });
    expect(fromString).toMatchObject({
      type: 'tool_call',
      call: { name: 'read_file', arguments: { operator: 'web-1', path: '/etc/hosts' } },
    });
    // A call without an id gets one, so its result can answer it.
    expect(fromString.type === 'tool_call' && fromString.call.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('turns an unknown tool (such as an approve the model invents) into a typed error', () => {
    const event = parseToolCall({ id: 'x', name: 'approve_proposal', arguments: { proposal: 'p1' } });
    expect(event).toMatchObject({
      type: 'tool_error',
      id: 'x',
      name: 'approve_proposal',
      error: { code: 'TOOL_CALL_INVALID' },
    });
    expect(event.type === 'tool_error' && event.error.message).toMatch(
      /not one of its tools.*nothing was run/,
    );
  });

  it('refuses a tool that exists but was not offered for this turn', () => {
    const event = parseToolCall({ name: 'write_file', arguments: {} }, ['list_operators']);
    expect(event).toMatchObject({ type: 'tool_error', error: { code: 'TOOL_CALL_INVALID' } });
  });

  it('refuses malformed JSON and arguments off the schema, naming the field', () => {
    const malformed = parseToolCall({
      name: 'run_command',
      arguments: '{"operators": ["web-1"], "command": ',
    });
    expect(malformed.type === 'tool_error' && malformed.error.message).toMatch(/valid JSON/);
    const badRisk = parseToolCall({ name: 'run_command', arguments: { ...validRun, risk: 'trivial' } });
    expect(badRisk.type === 'tool_error' && badRisk.error.message).toMatch(/risk/);
    const relative = parseToolCall({
      name: 'read_file',
      arguments: { operator: 'web-1', path: 'etc/passwd' },
    });
    expect(relative.type === 'tool_error' && relative.error.message).toMatch(/path: a path is absolute/);
    const badName = parseToolCall({
      name: 'fetch_session_history',
      arguments: { operator: 'Web 1; rm -rf /' },
    });
    expect(badName.type).toBe('tool_error');
    const tooLong = parseToolCall({
      name: 'run_command',
      arguments: { ...validRun, command: 'x'.repeat(17 * 1024) },
    });
    expect(tooLong.type === 'tool_error' && tooLong.error.message).toMatch(/command/);
    const notObject = parseToolCall({ name: 'list_operators', arguments: '[1,2]' });
    expect(notObject.type).toBe('tool_error');
  });
});
