import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../appliance/src/config.ts';
import { NO_MODEL_NOTICE, probeOllama, selectChatModel } from '../../appliance/src/llm/index.ts';
import { always, startOllamaFake, type OllamaFake } from '../support/ollama-fake.ts';
import { closedPort, collect } from './helpers.ts';

const settings = (env: Record<string, string>) => loadConfig({}, env);

let fake: OllamaFake | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

describe('choosing the model from the configuration', () => {
  it('reads DROPOPS_LLM and the provider settings, with auto and a local Ollama as defaults', () => {
    const defaults = settings({});
    expect(defaults).toMatchObject({
      llm: 'auto',
      ollamaUrl: 'http://127.0.0.1:11434',
      ollamaModel: 'llama3.1',
      geminiModel: 'gemini-2.5-flash',
      llmIdleTimeoutMs: 300_000,
    });
    expect(
      settings({
        DROPOPS_LLM: 'gemini',
        DROPOPS_GEMINI_API_KEY: 'k-123',
        DROPOPS_GEMINI_MODEL: 'gemini-2.5-pro',
        DROPOPS_OLLAMA_URL: 'http://10.0.0.5:11434',
        DROPOPS_OLLAMA_MODEL: 'qwen3',
        DROPOPS_LLM_IDLE_TIMEOUT_MS: '45000',
      }),
    ).toMatchObject({
      llm: 'gemini',
      geminiApiKey: 'k-123',
      geminiModel: 'gemini-2.5-pro',
      ollamaUrl: 'http://10.0.0.5:11434',
      ollamaModel: 'qwen3',
      llmIdleTimeoutMs: 45_000,
    });
    expect(() => settings({ DROPOPS_LLM: 'openai' })).toThrow(/llm \(DROPOPS_LLM\)/);
  });

  it('auto picks Ollama when it answers, and says when the configured model is not pulled', async () => {
    fake = await startOllamaFake([{ when: always, reply: { parts: [{ text: 'hi' }] } }], {
      models: ['llama3.1:latest', 'qwen3:8b'],
    });
    const chosen = await selectChatModel(settings({ DROPOPS_OLLAMA_URL: fake.url }));
    expect(chosen.info).toEqual({ provider: 'ollama', model: 'llama3.1' });
    expect(fake.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /api/tags']);

    const unpulled = await selectChatModel(
      settings({ DROPOPS_OLLAMA_URL: fake.url, DROPOPS_OLLAMA_MODEL: 'mistral' }),
    );
    expect(unpulled.info).toMatchObject({ provider: 'ollama', model: 'mistral' });
    expect(unpulled.info.notice).toMatch(/no model mistral: run ollama pull mistral/);
  });

  it('auto falls back to no model when nothing listens, and the none model says so plainly', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const chosen = await selectChatModel(settings({ DROPOPS_OLLAMA_URL: url }));
    expect(chosen.info).toEqual({
      provider: 'none',
      model: null,
      notice: `Ollama did not answer at ${url}. ${NO_MODEL_NOTICE}`,
    });
    expect(NO_MODEL_NOTICE).toMatch(/No language model is connected\. Type commands yourself/);
    const events = await collect(chosen.chat({ messages: [{ role: 'user', content: 'restart nginx' }] }));
    expect(events).toEqual([{ type: 'error', error: { code: 'NO_MODEL', message: chosen.info.notice } }]);
  });

  it('auto gives up on an Ollama address that accepts connections but never answers', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
    try {
      expect(await probeOllama(url, 1_000)).toBeUndefined();
      expect(sockets.length).toBeGreaterThan(0);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('uses exactly the provider asked for, and refuses gemini without a key', async () => {
    expect((await selectChatModel(settings({ DROPOPS_LLM: 'none' }))).info.provider).toBe('none');
    // ollama is taken at its word even when it does not answer now: the turn will say so.
    const url = `http://127.0.0.1:${await closedPort()}`;
    expect(
      (await selectChatModel(settings({ DROPOPS_LLM: 'ollama', DROPOPS_OLLAMA_URL: url }))).info.provider,
    ).toBe('ollama');
    const gemini = await selectChatModel(settings({ DROPOPS_LLM: 'gemini', DROPOPS_GEMINI_API_KEY: 'k' }));
    expect(gemini.info).toEqual({ provider: 'gemini', model: 'gemini-2.5-flash' });
    await expect(selectChatModel(settings({ DROPOPS_LLM: 'gemini' }))).rejects.toThrow(ConfigError);
    await expect(selectChatModel(settings({ DROPOPS_LLM: 'gemini' }))).rejects.toThrow(
      /DROPOPS_GEMINI_API_KEY/,
    );
  });
});
